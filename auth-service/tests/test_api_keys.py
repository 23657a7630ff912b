"""API keys: created once, listed without secrets, exchanged by the gateway, revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import update

from ampflux_auth.models import ApiKey


async def _key(svc, tokens, **body) -> dict:
    r = await svc.client.post("/auth/api-keys", json={"name": "export", **body}, headers=svc.bearer(tokens))
    assert r.status_code == 201, r.text
    return r.json()


async def _exchange(svc, key: str):
    return await svc.client.post("/auth/api-keys/exchange", headers={"X-API-Key": key})


async def test_create_list_exchange_revoke(pg):
    reg = await pg.register()
    tokens = await pg.login()
    created = await _key(pg, tokens, scopes=["projects:read", "simulations:write", "users:read"])
    assert created["key"].startswith("afx_") and created["key"].endswith(created["hint"])

    listed = (await pg.client.get("/auth/api-keys", headers=pg.bearer(tokens))).json()
    assert (listed["total"], listed["page"], listed["page_size"]) == (1, 1, 20)
    listed = listed["items"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and created["key"] not in str(listed)

    r = await _exchange(pg, created["key"])
    assert r.status_code == 200, r.text
    minted = r.json()
    assert minted["api_key_id"] == created["id"] and minted["expires_in"] == 60
    claims = jwt.decode(minted["access_token"], options={"verify_signature": False})
    assert claims["sub"] == reg["user"]["id"] and claims["company_id"] == reg["company"]["id"]
    assert claims["api_key_id"] == created["id"] and claims["scope"] == "projects:read simulations:write users:read"
    assert claims["exp"] - claims["iat"] == 60

    # The minted token works like any other, but cannot manage credentials.
    assert (await pg.client.get("/auth/me", headers=pg.bearer(minted))).status_code == 200
    r = await pg.client.post("/auth/api-keys", json={"name": "more"}, headers=pg.bearer(minted))
    assert r.status_code == 403

    listed = (await pg.client.get("/auth/api-keys", headers=pg.bearer(tokens))).json()["items"]
    assert listed[0]["last_used_at"] is not None

    r = await pg.client.delete(f"/auth/api-keys/{created['id']}", headers=pg.bearer(tokens))
    assert r.status_code == 204
    r = await _exchange(pg, created["key"])
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-api-key")


async def test_unknown_malformed_and_tampered_keys_are_401(pg):
    await pg.register()
    tokens = await pg.login()
    real = (await _key(pg, tokens))["key"]
    for bad in ["nonsense", "afx_zz_zz", real[:-1] + ("0" if real[-1] != "0" else "1"), real.replace("afx_", "xyz_")]:
        r = await _exchange(pg, bad)
        assert r.status_code == 401, bad
        assert r.headers["content-type"] == "application/problem+json"
    r = await pg.client.post("/auth/api-keys/exchange")
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "header.X-API-Key"


async def test_expired_key_is_401(pg):
    await pg.register()
    tokens = await pg.login()
    created = await _key(pg, tokens, expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    assert (await _exchange(pg, created["key"])).status_code == 200
    async with pg.app.state.db.session() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == created["id"]).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await _exchange(pg, created["key"])).status_code == 401


async def test_expiry_in_the_past_is_refused(pg):
    await pg.register()
    tokens = await pg.login()
    r = await pg.client.post(
        "/auth/api-keys", json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, headers=pg.bearer(tokens)
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "expires_at"


async def test_deactivated_users_keys_stop_working(pg):
    await pg.register()
    admin = await pg.login()
    grace = await pg.create_user(admin, "grace@example.com", ["engineer"])
    key = (await _key(pg, await pg.login("grace@example.com")))["key"]
    assert (await _exchange(pg, key)).status_code == 200
    await pg.client.post(f"/auth/users/{grace['id']}/deactivate", headers=pg.bearer(admin))
    assert (await _exchange(pg, key)).status_code == 401


async def test_only_the_owner_or_an_admin_revokes(pg):
    await pg.register()
    admin = await pg.login()
    await pg.create_user(admin, "grace@example.com", ["engineer"])
    await pg.create_user(admin, "eve@example.com", ["engineer"])
    grace, eve = await pg.login("grace@example.com"), await pg.login("eve@example.com")
    key = await _key(pg, grace)
    assert (await pg.client.delete(f"/auth/api-keys/{key['id']}", headers=pg.bearer(eve))).status_code == 404
    assert (await pg.client.delete(f"/auth/api-keys/{key['id']}", headers=pg.bearer(admin))).status_code == 204
    # Another company's admin sees nothing.
    await pg.register("mallory@other.example", company="Other")
    other = await pg.login("mallory@other.example")
    key2 = await _key(pg, grace)
    assert (await pg.client.delete(f"/auth/api-keys/{key2['id']}", headers=pg.bearer(other))).status_code == 404
