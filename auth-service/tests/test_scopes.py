"""API-key scopes in the auth service: a key does only what its scopes name, never more
than its creator, and manages users or keys only with `users:admin`."""

from __future__ import annotations

from ampflux_shared.security import unscoped_routes
from ampflux_testing.scopes import walk

PUBLIC = {
    "POST /auth/register",
    "POST /auth/login",
    "POST /auth/refresh",
    "POST /auth/logout",
    "POST /auth/api-keys/exchange",
    "GET /.well-known/jwks.json",
}


async def _key(svc, tokens, scopes: list[str]) -> dict:
    r = await svc.client.post("/auth/api-keys", json={"name": "k", "scopes": scopes}, headers=svc.bearer(tokens))
    assert r.status_code == 201, r.text
    return r.json()


async def _minted(svc, key: dict) -> dict:
    r = await svc.client.post("/auth/api-keys/exchange", headers={"X-API-Key": key["key"]})
    assert r.status_code == 200, r.text
    return r.json()


def _slug(r) -> str:
    return r.json()["type"].rsplit("/", 1)[-1]


async def test_every_route_declares_a_scope_or_is_public(pg):
    assert unscoped_routes(pg.app) == []


async def test_a_read_only_key_is_refused_on_every_route_but_the_public_ones(pg):
    await pg.register()
    admin = await pg.login()
    minted = await _minted(pg, await _key(pg, admin, ["projects:read"]))

    answers = await walk(pg.client, pg.app, pg.bearer(minted))
    assert len(answers) >= 15
    for a in answers:
        assert a.status < 500, a
        if f"{a.method} {a.path}" in PUBLIC:
            assert not a.scope_refused, a
        else:  # everything else here is users and keys: `users:*`
            assert a.scope_refused, a


async def test_a_projects_read_key_of_an_admin_cannot_manage_users_or_keys(pg):
    await pg.register()
    admin = await pg.login()
    grace = await pg.create_user(admin, "grace@example.com", ["engineer"])
    other_key = await _key(pg, admin, [])
    h = pg.bearer(await _minted(pg, await _key(pg, admin, ["projects:read"])))

    r = await pg.client.post(
        "/auth/users",
        json={"name": "m", "email": "m@example.com", "password": pg.password, "roles": ["admin"]},
        headers=h,
    )
    assert r.status_code == 403 and r.json()["required_scope"] == "users:admin"
    r = await pg.client.patch(f"/auth/users/{grace['id']}", json={"roles": ["admin"]}, headers=h)
    assert r.status_code == 403 and _slug(r) == "insufficient-scope"
    r = await pg.client.delete(f"/auth/api-keys/{other_key['id']}", headers=h)
    assert r.status_code == 403 and _slug(r) == "insufficient-scope"
    # Nothing happened: grace is still an engineer, the other key still exchanges.
    user = (await pg.client.get(f"/auth/users/{grace['id']}", headers=pg.bearer(admin))).json()
    assert user["roles"] == ["engineer"]
    assert (await pg.client.post("/auth/api-keys/exchange", headers={"X-API-Key": other_key["key"]})).status_code == 200


async def test_a_users_admin_key_manages_users_but_a_users_read_key_does_not(pg):
    await pg.register()
    admin = await pg.login()
    manager = pg.bearer(await _minted(pg, await _key(pg, admin, ["users:admin"])))
    reader = pg.bearer(await _minted(pg, await _key(pg, admin, ["users:read"])))
    assert (await pg.client.get("/auth/users", headers=manager)).status_code == 200
    assert (await pg.client.get("/auth/me", headers=reader)).status_code == 200
    r = await pg.client.get("/auth/users", headers=reader)
    assert r.status_code == 403 and r.json()["required_scope"] == "users:admin"


async def test_a_key_never_gets_scopes_beyond_its_creators_roles(pg):
    await pg.register()
    admin = await pg.login()
    await pg.create_user(admin, "vic@example.com", ["viewer"])
    await pg.create_user(admin, "eng@example.com", ["engineer"])
    viewer, engineer = await pg.login("vic@example.com"), await pg.login("eng@example.com")

    r = await pg.client.post(
        "/auth/api-keys", json={"name": "k", "scopes": ["projects:read", "projects:write"]}, headers=pg.bearer(viewer)
    )
    assert r.status_code == 403, r.text
    assert _slug(r) == "scope-exceeds-creator" and r.json()["scopes"] == ["projects:write"]
    assert "projects:write" in r.json()["detail"]
    r = await pg.client.post(
        "/auth/api-keys", json={"name": "k", "scopes": ["users:admin"]}, headers=pg.bearer(engineer)
    )
    assert r.status_code == 403 and r.json()["scopes"] == ["users:admin"]
    # What the roles allow is fine; admins may have it all.
    await _key(pg, viewer, ["projects:read", "simulations:read"])
    await _key(pg, engineer, ["projects:write", "simulations:write"])
    await _key(pg, admin, ["users:admin", "projects:admin"])


async def test_unknown_scopes_are_422_naming_each(pg):
    await pg.register()
    admin = await pg.login()
    r = await pg.client.post(
        "/auth/api-keys",
        json={"name": "k", "scopes": ["projects:read", "studies:run", "projects:*"]},
        headers=pg.bearer(admin),
    )
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["scopes.1", "scopes.2"]


async def test_a_revoked_keys_token_is_refused_here_at_once(pg):
    await pg.register()
    admin = await pg.login()
    key = await _key(pg, admin, ["users:read"])
    h = pg.bearer(await _minted(pg, key))
    assert (await pg.client.get("/auth/me", headers=h)).status_code == 200
    assert (await pg.client.delete(f"/auth/api-keys/{key['id']}", headers=pg.bearer(admin))).status_code == 204
    r = await pg.client.get("/auth/me", headers=h)
    assert r.status_code == 401 and _slug(r) == "invalid-api-key"
