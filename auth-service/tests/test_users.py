"""Company admins manage their own company's users, and nobody else's."""

from __future__ import annotations

import uuid

import jwt


async def _two_companies(svc):
    await svc.register("ada@a.example", company="A")
    await svc.register("bob@b.example", company="B")
    return await svc.login("ada@a.example"), await svc.login("bob@b.example")


async def test_admin_creates_lists_and_reads_users(pg):
    await pg.register()
    admin = await pg.login()
    grace = await pg.create_user(admin, "grace@example.com", ["engineer"])
    assert grace["roles"] == ["engineer"] and grace["is_active"]

    r = await pg.client.get("/auth/users", headers=pg.bearer(admin))
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 2 and page["page"] == 1 and page["page_size"] == 20
    assert [u["email"] for u in page["items"]] == ["ada@example.com", "grace@example.com"]

    r = await pg.client.get(f"/auth/users/{grace['id']}", headers=pg.bearer(admin))
    assert r.status_code == 200 and r.json()["email"] == "grace@example.com"

    # New users can log in with the roles they were given.
    tokens = await pg.login("grace@example.com")
    me = (await pg.client.get("/auth/me", headers=pg.bearer(tokens))).json()
    assert me["roles"] == ["engineer"] and me["company_id"] == grace["company_id"]


async def test_pages_are_bounded(pg):
    await pg.register()
    admin = await pg.login()
    for i in range(3):
        await pg.create_user(admin, f"u{i}@example.com", ["viewer"])
    r = await pg.client.get("/auth/users", params={"page": 2, "page_size": 2}, headers=pg.bearer(admin))
    assert r.json()["total"] == 4 and [u["email"] for u in r.json()["items"]] == ["u1@example.com", "u2@example.com"]
    # Past the bounds: a 422 naming the parameter, never a database overflow (500).
    for params, path in [({"page_size": 500}, "query.page_size"), ({"page": 10**30}, "query.page")]:
        r = await pg.client.get("/auth/users", params=params, headers=pg.bearer(admin))
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == path


async def test_unknown_role_is_a_validation_error(pg):
    await pg.register()
    admin = await pg.login()
    r = await pg.client.post(
        "/auth/users",
        json={"name": "x", "email": "x@example.com", "password": pg.password, "roles": ["overlord"]},
        headers=pg.bearer(admin),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "roles[0]"


async def test_admin_updates_roles_and_deactivates(pg):
    await pg.register()
    admin = await pg.login()
    grace = await pg.create_user(admin, "grace@example.com", ["engineer"])
    grace_tokens = await pg.login("grace@example.com")

    r = await pg.client.patch(
        f"/auth/users/{grace['id']}", json={"roles": ["manager", "engineer"]}, headers=pg.bearer(admin)
    )
    assert r.status_code == 200 and r.json()["roles"] == ["engineer", "manager"]

    r = await pg.client.post(f"/auth/users/{grace['id']}/deactivate", headers=pg.bearer(admin))
    assert r.status_code == 200 and r.json()["is_active"] is False

    # No more login, no more refresh, and her still-unexpired token no longer works here.
    r = await pg.client.post("/auth/login", json={"email": "grace@example.com", "password": pg.password})
    assert r.status_code == 401
    r = await pg.client.post("/auth/refresh", json={"refresh_token": grace_tokens["refresh_token"]})
    assert r.status_code == 401
    assert (await pg.client.get("/auth/me", headers=pg.bearer(grace_tokens))).status_code == 401

    r = await pg.client.post(f"/auth/users/{grace['id']}/reactivate", headers=pg.bearer(admin))
    assert r.status_code == 200 and r.json()["is_active"] is True
    await pg.login("grace@example.com")


async def test_the_last_admin_cannot_be_demoted_or_deactivated(pg):
    reg = await pg.register()
    admin = await pg.login()
    me = reg["user"]["id"]
    r = await pg.client.patch(f"/auth/users/{me}", json={"roles": ["viewer"]}, headers=pg.bearer(admin))
    assert r.status_code == 409
    r = await pg.client.post(f"/auth/users/{me}/deactivate", headers=pg.bearer(admin))
    assert r.status_code == 409
    # With a second admin, the first may step down.
    await pg.create_user(admin, "deputy@example.com", ["admin"])
    r = await pg.client.patch(f"/auth/users/{me}", json={"roles": ["engineer"]}, headers=pg.bearer(admin))
    assert r.status_code == 200


async def test_another_companys_users_are_not_found(pg):
    a, b = await _two_companies(pg)
    b_user = await pg.create_user(b, "carol@b.example", ["engineer"])
    uid = b_user["id"]
    for method, path, body in [
        ("GET", f"/auth/users/{uid}", None),
        ("PATCH", f"/auth/users/{uid}", {"roles": ["admin"]}),
        ("POST", f"/auth/users/{uid}/deactivate", None),
        ("POST", f"/auth/users/{uid}/reactivate", None),
    ]:
        r = await pg.client.request(method, path, json=body, headers=pg.bearer(a))
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["type"].endswith("/not-found")
    # Same answer as for an id that exists nowhere.
    r = await pg.client.get(f"/auth/users/{uuid.uuid4()}", headers=pg.bearer(a))
    assert r.status_code == 404

    listed = (await pg.client.get("/auth/users", headers=pg.bearer(a))).json()
    assert [u["email"] for u in listed["items"]] == ["ada@a.example"]
    # And carol is untouched.
    carol = (await pg.client.get(f"/auth/users/{uid}", headers=pg.bearer(b))).json()
    assert carol["roles"] == ["engineer"] and carol["is_active"]


async def test_non_admins_get_403(pg):
    await pg.register()
    admin = await pg.login()
    eng = await pg.create_user(admin, "eng@example.com", ["engineer", "manager"])
    tokens = await pg.login("eng@example.com")
    for method, path, body in [
        ("GET", "/auth/users", None),
        ("POST", "/auth/users", {"name": "x", "email": "x@example.com", "password": pg.password}),
        ("GET", f"/auth/users/{eng['id']}", None),
        ("PATCH", f"/auth/users/{eng['id']}", {"roles": ["admin"]}),
        ("POST", f"/auth/users/{eng['id']}/deactivate", None),
    ]:
        r = await pg.client.request(method, path, json=body, headers=pg.bearer(tokens))
        assert r.status_code == 403, (method, path)
        assert r.headers["content-type"] == "application/problem+json"


async def test_a_demoted_admin_loses_user_management_at_once(pg):
    await pg.register()
    admin = await pg.login()
    deputy = await pg.create_user(admin, "deputy@example.com", ["admin"])
    deputy_tokens = await pg.login("deputy@example.com")
    r = await pg.client.patch(f"/auth/users/{deputy['id']}", json={"roles": ["viewer"]}, headers=pg.bearer(admin))
    assert r.status_code == 200
    # Her token still says "admin" for a few minutes; this service reads the row instead.
    assert jwt.decode(deputy_tokens["access_token"], options={"verify_signature": False})["roles"] == ["admin"]
    r = await pg.client.get("/auth/users", headers=pg.bearer(deputy_tokens))
    assert r.status_code == 403
