"""Signing keys: published as JWKS, rotated without logging anyone out, pruned later."""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from ampflux_auth import keys
from ampflux_auth.domain.signing_keys import prune_signing_keys
from ampflux_auth.models import SigningKey


async def _kid(tokens: dict) -> str:
    return jwt.get_unverified_header(tokens["access_token"])["kid"]


async def test_jwks_publishes_the_public_key_only(pg):
    r = await pg.client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert "max-age" in r.headers["cache-control"]
    (key,) = r.json()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA" and key["use"] == "sig" and key["kid"]
    assert "d" not in key  # the private scalar
    # The published key verifies our tokens.
    await pg.register()
    token = (await pg.login())["access_token"]
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["EdDSA"], audience="ampflux", issuer="ampflux-auth")
    assert claims["roles"] == ["admin"]


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(pg):
    await pg.register()
    before = await pg.login()
    old_kid = await _kid(before)

    new_kid = await keys.rotate(pg.settings)
    assert new_kid != old_kid

    after = await pg.login()
    assert await _kid(after) == new_kid
    # Both tokens verify here (the new kid triggers a key reload), and the JWKS has both.
    assert (await pg.client.get("/auth/me", headers=pg.bearer(after))).status_code == 200
    assert (await pg.client.get("/auth/me", headers=pg.bearer(before))).status_code == 200
    published = {k["kid"] for k in (await pg.client.get("/.well-known/jwks.json")).json()["keys"]}
    assert published == {old_kid, new_kid}

    # Refresh tokens issued under the old key keep working: they are not signed at all.
    r = await pg.client.post("/auth/refresh", json={"refresh_token": before["refresh_token"]})
    assert r.status_code == 200 and await _kid(r.json()) == new_kid

    # Pruning now retires nothing: tokens signed by the old key may still be alive.
    assert await keys.prune(pg.settings) == []
    # Once they have all expired, the old key leaves the JWKS and its private half is erased.
    async with pg.app.state.db.session() as session:
        later = datetime.now(UTC) + timedelta(seconds=keys.longest_token_ttl_s(pg.settings) + 120)
        assert await prune_signing_keys(session, max_token_ttl_s=keys.longest_token_ttl_s(pg.settings), now=later) == [
            old_kid
        ]
    published = {k["kid"] for k in (await pg.client.get("/.well-known/jwks.json")).json()["keys"]}
    assert published == {new_kid}
    async with pg.app.state.db.session() as session:
        retired = await session.get(SigningKey, old_kid)
        assert retired.private_pem is None and retired.retired_at is not None


async def test_keys_are_encrypted_at_rest_with_a_passphrase(service_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with service_factory(url, signing_key_passphrase="s3cret-passphrase") as svc:
        async with svc.app.state.db.session() as session:
            pem = await session.scalar(select(SigningKey.private_pem))
        assert "ENCRYPTED PRIVATE KEY" in pem
        await svc.register()
        await svc.login()


async def test_passphrase_from_a_secret_file(service_factory, tmp_path):
    secret = tmp_path / "passphrase"
    secret.write_text("from-a-file\n")
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with service_factory(url, signing_key_passphrase_file=secret) as svc:
        await svc.register()
        await svc.login()
        async with svc.app.state.db.session() as session:
            pem = await session.scalar(select(SigningKey.private_pem))
    # Encrypted with the file's content (trailing newline stripped), and only with it.
    serialization.load_pem_private_key(pem.encode(), password=b"from-a-file")
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem.encode(), password=b"something else")


async def test_first_start_creates_one_key_and_restarts_reuse_it(service_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with service_factory(url) as svc:
        first = (await svc.client.get("/.well-known/jwks.json")).json()["keys"]
    async with service_factory(url) as svc:
        again = (await svc.client.get("/.well-known/jwks.json")).json()["keys"]
    assert len(first) == 1 and first == again


async def test_keys_command_line(service_factory, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with service_factory(url):
        pass  # migrations and the first key
    monkeypatch.setenv("AUTH_DATABASE_URL", url)

    # Once as an operator types it: the module runs as a command and reads its settings from
    # the environment. The rest calls the same main() in this process (each interpreter
    # start costs seconds of imports): same arguments, output and exit codes.
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ampflux_auth.keys", "list", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 0, stderr.decode()

    def main(args: tuple[str, ...]) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = keys.main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
        return code, out.getvalue(), err.getvalue()

    async def run(*args: str, expect: int = 0) -> str:
        # A thread: main() runs its own event loop, as it does from the command line.
        code, out, err = await asyncio.to_thread(main, args)
        assert code == expect, err
        return out

    assert await run("list") == stdout.decode()
    (first,) = stdout.decode().splitlines()
    old_kid = first.split("\t")[0]
    assert "\tsigning\t" in first
    new_kid = (await run("rotate")).removeprefix("new signing key: ").strip()
    listing = await run("list")
    assert f"{old_kid}\tpublished" in listing and f"{new_kid}\tsigning" in listing
    assert (await run("prune")).strip() == "retired: none"
    # After a leak: the old key goes at once; the signing key cannot be retired.
    await run("retire", new_kid, expect=2)
    assert (await run("retire", old_kid)).strip() == f"retired: {old_kid}"
    assert f"{old_kid}\tretired" in await run("list")
