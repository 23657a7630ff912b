"""Tokens this service must refuse, whatever their shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _claims_and_key(svc):
    tokens = await svc.login()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    key = await svc.app.state.keyring.signing_key()
    return tokens, claims, key


async def _me(svc, token: str):
    return await svc.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def registered(pg):
    await pg.register()
    return pg


async def test_genuine_token_is_accepted(registered):
    tokens, _, _ = await _claims_and_key(registered)
    assert (await _me(registered, tokens["access_token"])).status_code == 200


async def test_forged_signature_is_refused(registered):
    _, claims, key = await _claims_and_key(registered)
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": key.kid})
    r = await _me(registered, forged)
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token")


async def test_tampered_claims_are_refused(registered):
    tokens, claims, _ = await _claims_and_key(registered)
    header, _, signature = tokens["access_token"].split(".")
    payload = _b64(json.dumps({**claims, "roles": ["admin", "viewer"]}).encode())
    assert (await _me(registered, f"{header}.{payload}.{signature}")).status_code == 401


async def test_expired_token_is_refused(registered):
    _, claims, key = await _claims_and_key(registered)
    now = int(time.time())
    expired = key.sign({**claims, "iat": now - 3600, "exp": now - 600})
    r = await _me(registered, expired)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_wrong_audience_and_issuer_are_refused(registered):
    _, claims, key = await _claims_and_key(registered)
    assert (await _me(registered, key.sign({**claims, "aud": "someone-else"}))).status_code == 401
    assert (await _me(registered, key.sign({**claims, "iss": "evil"}))).status_code == 401


async def test_missing_required_claim_is_refused(registered):
    _, claims, key = await _claims_and_key(registered)
    without_exp = {k: v for k, v in claims.items() if k != "exp"}
    assert (await _me(registered, key.sign(without_exp))).status_code == 401


async def test_alg_none_is_refused(registered):
    _, claims, key = await _claims_and_key(registered)
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
    unsigned = f"{header}.{_b64(json.dumps(claims).encode())}."
    r = await _me(registered, unsigned)
    assert r.status_code == 401


async def test_hs256_signed_with_the_public_key_is_refused(registered):
    _, claims, key = await _claims_and_key(registered)
    jwk = (await registered.client.get("/.well-known/jwks.json")).json()["keys"][0]
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    # Try every form of "the public key" an attacker could hope the verifier uses as a secret.
    raw = base64.urlsafe_b64decode(jwk["x"] + "==")
    for secret in (raw, jwk["x"].encode(), json.dumps(jwk).encode()):
        sig = _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
        assert (await _me(registered, f"{signing_input}.{sig}")).status_code == 401


async def test_unknown_kid_and_garbage_are_refused(registered):
    _, claims, key = await _claims_and_key(registered)
    other = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "not-a-key"})
    assert (await _me(registered, other)).status_code == 401
    no_kid = jwt.encode(claims, key.private_key, algorithm="EdDSA")
    assert (await _me(registered, no_kid)).status_code == 401
    assert (await _me(registered, "garbage")).status_code == 401
