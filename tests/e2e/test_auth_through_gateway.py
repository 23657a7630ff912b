"""A user's first day, through the real gateway in front of the real auth service,
on PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from e2e.flows import bearer, new_user, register_and_login
from e2e.stack import JWKS_QUOTA, LOGIN_QUOTA

from ampflux_testing.event_listener import listen_for_events
from ampflux_testing.polling import eventually_sync

pytestmark = pytest.mark.slow


def test_register_login_me_refresh_logout(gw):
    user, tokens = register_and_login(gw)
    assert tokens["token_type"].lower() == "bearer" and tokens["expires_in"] > 0

    me = gw.get("/auth/me", headers=bearer(tokens))
    assert me.status_code == 200, me.text
    assert me.json()["email"] == user["email"]
    assert "admin" in me.json()["roles"]
    assert me.headers.get("x-request-id")

    r = gw.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]

    # The old refresh token was rotated away: using it again revokes the whole family.
    reuse = gw.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.headers["content-type"] == "application/problem+json"
    assert gw.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code == 401

    _, fresh = register_and_login(gw, None)
    assert gw.post(
        "/auth/logout", json={"refresh_token": fresh["refresh_token"]}, headers=bearer(fresh)
    ).status_code in (200, 204)
    assert gw.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 401


def test_oauth2_password_form_login_works_for_swagger(gw):
    user, _ = register_and_login(gw)
    r = gw.post("/auth/login", data={"username": user["email"], "password": user["password"]})
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]


def test_protected_route_without_token_is_refused_by_the_gateway(gw):
    r = gw.get("/auth/me")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_alg_none_and_tampered_tokens_are_refused(gw):
    _, tokens = register_and_login(gw)
    head, body, _sig = tokens["access_token"].split(".")

    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    none_token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    claims["roles"] = ["admin", "engineer"]
    tampered = f"{head}.{b64(claims)}.{_sig}"
    for token in (none_token, tampered):
        r = gw.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token


def test_api_key_is_accepted_in_place_of_a_token_until_revoked(gw):
    user, tokens = register_and_login(gw)
    r = gw.post("/auth/api-keys", json={"name": "ci script", "scopes": ["users:read"]}, headers=bearer(tokens))
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created.get("key") or created.get("api_key") or created.get("secret")
    assert secret

    me = gw.get("/auth/me", headers={"X-API-Key": secret})
    assert me.status_code == 200, me.text
    assert me.json()["email"] == user["email"]

    items = gw.get("/auth/api-keys", headers=bearer(tokens)).json()["items"]
    assert any(k["id"] == created["id"] for k in items)
    assert all(secret not in json.dumps(k) for k in items)

    assert gw.delete(f"/auth/api-keys/{created['id']}", headers=bearer(tokens)).status_code in (200, 204)
    # The gateway reuses an exchange for about a second; a revoked key stops working within two.
    eventually_sync(
        lambda: gw.get("/auth/me", headers={"X-API-Key": secret}).status_code == 401,
        timeout=2.0,
        interval=0.1,
        what="the revoked key to be refused (it still works after 2 s)",
    )
    assert gw.get("/auth/me", headers={"X-API-Key": "afx_bogus_key"}).status_code == 401


def test_one_company_cannot_read_or_change_another_companys_users(gw):
    _, a_tokens = register_and_login(gw)
    _, b_tokens = register_and_login(gw)
    b_me = gw.get("/auth/me", headers=bearer(b_tokens)).json()

    assert gw.get(f"/auth/users/{b_me['id']}", headers=bearer(a_tokens)).status_code == 404
    r = gw.patch(f"/auth/users/{b_me['id']}", json={"roles": ["viewer"]}, headers=bearer(a_tokens))
    assert r.status_code == 404
    listed = gw.get("/auth/users", headers=bearer(a_tokens)).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert b_me["id"] not in {u["id"] for u in items}
    # B is untouched.
    assert "admin" in gw.get("/auth/me", headers=bearer(b_tokens)).json()["roles"]


async def test_registration_publishes_events_to_rabbitmq(stack, gw):
    async with listen_for_events(stack["amqp_url"], "auth.#") as events:
        user = new_user()
        # The gateway client is synchronous: in a thread, so the listener keeps receiving.
        r = await asyncio.to_thread(gw.post, "/auth/register", json=user)
        assert r.status_code == 201, r.text
        # Other tests share the broker: keep only this registration's events.
        mine = await events.wait_for(
            lambda e: e.payload.get("email") == user["email"] or e.payload.get("name") == user["company_name"],
            count=2,
            timeout=20,
        )
    assert sorted(e.type for e in mine) == ["auth.company.created", "auth.user.registered"]
    assert {e.producer for e in mine} == {"auth"}
    assert {str(e.company_id) for e in mine} == {r.json()["company"]["id"]}


def test_burst_over_the_limit_gets_429_with_headers(gw):
    statuses = []
    for _ in range(JWKS_QUOTA + 5):
        r = gw.get("/.well-known/jwks.json")
        statuses.append(r.status_code)
        assert r.headers["RateLimit-Limit"] == str(JWKS_QUOTA)
        assert r.headers["RateLimit-Policy"] == f'"jwks";q={JWKS_QUOTA};w=60'
        if r.status_code == 429:
            break
    assert statuses[:JWKS_QUOTA] == [200] * JWKS_QUOTA
    assert statuses[-1] == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["RateLimit-Remaining"] == "0"
    assert int(r.headers["RateLimit-Reset"]) >= 1
    assert r.headers["content-type"] == "application/problem+json"
    assert "X-RateLimit-Limit" not in r.headers


def test_login_carries_its_stricter_policy(gw):
    r = gw.post("/auth/login", json={"email": "nobody@example.com", "password": "wrong-password-here"})
    assert r.status_code == 401
    assert r.headers["RateLimit-Policy"] == f'"login";q={LOGIN_QUOTA};w=60'
