"""The story of one user: register, log in both ways, read the account, refresh, get a
stolen refresh token detected, log out, change the password."""

from __future__ import annotations

import asyncio

import jwt
import pytest

PASSWORD = "correct horse battery"


async def test_register_creates_company_and_admin(pg):
    body = await pg.register()
    assert body["company"]["name"] == "Analytical Engines"
    assert body["user"]["roles"] == ["admin"]
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["company_id"] == body["company"]["id"]
    assert "password" not in str(body)


async def test_register_duplicate_email_is_409_problem(pg):
    await pg.register()
    r = await pg.client.post(
        "/auth/register",
        json={"name": "Eve", "email": "ADA@example.com", "password": PASSWORD, "company_name": "Other"},
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/conflict")
    assert body["errors"][0]["path"] == "email"
    assert "Analytical" not in r.text


async def test_register_validation_names_fields(pg):
    r = await pg.client.post("/auth/register", json={"name": "", "email": "nope", "password": "short"})
    assert r.status_code == 422
    paths = {e["path"] for e in r.json()["errors"]}
    assert paths == {"name", "email", "password", "company_name"}


async def test_login_with_json_and_with_oauth2_form(pg):
    await pg.register()
    tokens = await pg.login()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"]

    r = await pg.client.post("/auth/login", data={"username": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["access_token"] != tokens["access_token"]


async def test_login_form_validation_names_form_fields(pg):
    r = await pg.client.post("/auth/login", data={"username": "ada@example.com"})
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["password"]


async def test_access_token_claims(pg):
    reg = await pg.register()
    tokens = await pg.login()
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"]
    assert claims["iss"] == "ampflux-auth" and claims["aud"] == "ampflux"
    assert claims["sub"] == reg["user"]["id"]
    assert claims["company_id"] == reg["company"]["id"]
    assert claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]


async def test_me_needs_a_token(pg):
    r = await pg.client.get("/auth/me")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_me_reads_and_updates_own_profile(pg):
    await pg.register()
    tokens = await pg.login()
    r = await pg.client.get("/auth/me", headers=pg.bearer(tokens))
    assert r.status_code == 200 and r.json()["email"] == "ada@example.com"

    r = await pg.client.patch("/auth/me", json={"name": "Ada King"}, headers=pg.bearer(tokens))
    assert r.status_code == 200 and r.json()["name"] == "Ada King"

    # Changing the login email needs the password.
    r = await pg.client.patch("/auth/me", json={"email": "ada.king@example.com"}, headers=pg.bearer(tokens))
    assert r.status_code == 403
    r = await pg.client.patch(
        "/auth/me", json={"email": "ada.king@example.com", "current_password": PASSWORD}, headers=pg.bearer(tokens)
    )
    assert r.status_code == 200 and r.json()["email"] == "ada.king@example.com"
    await pg.login("ada.king@example.com")


async def test_refresh_rotates_and_reuse_revokes_the_family(pg):
    await pg.register()
    first = await pg.login()

    r = await pg.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await pg.client.get("/auth/me", headers=pg.bearer(second))).status_code == 200

    # The first token again: someone else has it. The whole family dies, the newest token too.
    r = await pg.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["type"].endswith("/invalid-refresh-token")
    r = await pg.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401

    # Other sessions are untouched.
    other = await pg.login()
    r = await pg.client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 200


async def test_unknown_refresh_token_is_401(pg):
    r = await pg.client.post("/auth/refresh", json={"refresh_token": "not-a-token"})
    assert r.status_code == 401


async def test_logout_revokes_the_session(pg):
    await pg.register()
    tokens = await pg.login()
    r = await pg.client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    r = await pg.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    # Logging out twice, or with a token we never issued, is not an error.
    r = await pg.client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204


async def test_password_change_keeps_this_session_and_ends_the_others(pg):
    await pg.register()
    mine = await pg.login()
    elsewhere = await pg.login()

    r = await pg.client.post(
        "/auth/me/password",
        json={"current_password": "wrong password!", "new_password": "a brand new passphrase"},
        headers=pg.bearer(mine),
    )
    assert r.status_code == 403
    assert r.json()["errors"][0]["path"] == "current_password"

    r = await pg.client.post(
        "/auth/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=pg.bearer(mine),
    )
    assert r.status_code == 204

    assert (
        await pg.client.post("/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]})
    ).status_code == 401
    assert (await pg.client.post("/auth/refresh", json={"refresh_token": mine["refresh_token"]})).status_code == 200
    r = await pg.client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 401
    await pg.login(password="a brand new passphrase")


@pytest.mark.parametrize("email", ["ada@example.com", " Ada@Example.COM "])
async def test_login_email_is_case_and_space_insensitive(lite, email):
    await lite.register()
    await lite.login(email=email)


async def test_concurrent_use_of_one_refresh_token_has_one_winner_and_revokes_the_family(pg):
    await pg.register()
    tokens = await pg.login()
    results = await asyncio.gather(
        *(pg.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}) for _ in range(2))
    )
    assert sorted(r.status_code for r in results) == [200, 401]
    # The loser's use counts as a reuse: the winner's new token dies with the family.
    (winner,) = [r.json() for r in results if r.status_code == 200]
    r = await pg.client.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert r.status_code == 401


async def test_the_whole_story_on_sqlite(lite):
    """The embedded default runs the same code: register, login, refresh, reuse, logout."""
    await lite.register()
    first = await lite.login()
    second = (await lite.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert (await lite.client.get("/auth/me", headers=lite.bearer(second))).status_code == 200
    assert (await lite.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).status_code == 401
    assert (await lite.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    third = await lite.login()
    assert (await lite.client.post("/auth/logout", json={"refresh_token": third["refresh_token"]})).status_code == 204
    assert (await lite.client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})).status_code == 401
