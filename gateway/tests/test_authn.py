"""Credentials are checked at the gateway, before any upstream sees the request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PROBLEM = "application/problem+json"
KID = "test-key"  # the kid conftest's JWKS publishes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims() -> dict:
    now = int(time.time())
    return {"iss": "ampflux-auth", "aud": "ampflux", "sub": "u1", "company_id": "c1", "iat": now, "exp": now + 300}


def _unsigned(alg: str) -> str:
    header = _b64(json.dumps({"alg": alg, "kid": KID, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_claims()).encode())}."


def _hs256_with_public_key(public_pem: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "kid": KID, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    sig = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


@pytest.fixture
def bad_tokens(make_token, keys) -> dict[str, str]:
    return {
        "forged signature": make_token(key=Ed25519PrivateKey.generate()),
        "expired": make_token(exp=int(time.time()) - 120, iat=int(time.time()) - 600),
        "wrong audience": make_token(aud="someone-else"),
        "wrong issuer": make_token(iss="evil"),
        "alg none": _unsigned("none"),
        "HS256 with the public key": _hs256_with_public_key(keys.public_pem),
        "unknown kid": make_token(headers={"kid": "who-knows"}),
        "garbage": "not-a-jwt",
    }


async def test_bad_tokens_are_refused_before_the_upstream(client, bad_tokens, hits):
    before = await hits()
    for name, token in bad_tokens.items():
        resp = await client.get("/echo/secret", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, name
        assert resp.headers["content-type"] == PROBLEM, name
        assert resp.headers["www-authenticate"] == "Bearer", name
        assert resp.json()["type"].endswith("/invalid-token"), name
    assert await hits() == before, "an upstream was called with a bad token"


async def test_missing_credential_is_401_before_the_upstream(client, hits):
    before = await hits()
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}):
        resp = await client.post("/echo/x", headers=headers, content=b"{}")
        assert resp.status_code == 401 and resp.headers["content-type"] == PROBLEM
    assert await hits() == before


async def test_public_paths_need_no_token(client):
    assert (await client.get("/open/anything")).status_code == 200
    assert (await client.post("/auth/login", json={"email": "a@b.c"})).status_code == 200
    assert (await client.get("/mixed/public/x")).status_code == 200
    assert (await client.get("/mixed/private")).status_code == 401
    # A bad token on a public path is the upstream's business, not a gateway refusal.
    resp = await client.get("/open/x", headers={"Authorization": "Bearer junk"})
    assert resp.status_code == 200 and resp.json()["headers"]["authorization"] == "Bearer junk"
    # The JWKS is served through the gateway, without a token.
    jwks = await client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"][0]["kid"] == KID


async def test_api_key_is_exchanged_once_and_forwarded_as_a_token(client, upstreams, good_api_key):
    import httpx

    async def exchanges() -> int:
        async with httpx.AsyncClient() as c:
            return (await c.get(upstreams[0].url + "/_stats")).json().get("/auth/api-keys/exchange", 0)

    before = await exchanges()
    first = await client.get("/echo/with-key", headers={"X-API-Key": good_api_key})
    assert first.status_code == 200, first.text
    seen = first.json()["headers"]
    assert "x-api-key" not in seen
    assert seen["authorization"].startswith("Bearer ey")
    assert await exchanges() == before + 1
    second = await client.get("/echo/with-key", headers={"X-API-Key": good_api_key})
    assert second.status_code == 200
    assert second.json()["headers"]["authorization"] == seen["authorization"]
    assert await exchanges() == before + 1, "the second call should use the cached exchange"


async def test_bad_api_key_is_401(client, hits):
    resp = await client.get("/echo/x", headers={"X-API-Key": "ak_wrong"})
    assert resp.status_code == 401 and resp.headers["content-type"] == PROBLEM
    assert resp.json()["type"].endswith("/invalid-api-key")


async def test_exchange_endpoint_is_not_reachable_from_outside(client, make_token, good_api_key):
    for headers in ({}, {"Authorization": f"Bearer {make_token()}"}, {"X-API-Key": good_api_key}):
        resp = await client.post("/auth/api-keys/exchange", headers=headers)
        assert resp.status_code == 404 and resp.headers["content-type"] == PROBLEM


def test_a_verified_token_is_remembered_for_the_ttl_but_never_past_its_exp(monkeypatch):
    from ampflux_gateway import authn

    # An injected clock (the cache reads it through the module's `time`), restored afterwards.
    clock = {"mono": 1000.0, "wall": 2_000_000_000.0}
    monkeypatch.setattr(authn.time, "monotonic", lambda: clock["mono"])
    monkeypatch.setattr(authn.time, "time", lambda: clock["wall"])
    cache = authn.VerifiedTokens(ttl_s=30.0)
    long_lived = {"sub": "a", "exp": clock["wall"] + 3600}
    short_lived = {"sub": "b", "exp": clock["wall"] + 5}
    cache.put("long", long_lived)
    cache.put("short", short_lived)
    cache.put("expired", {"sub": "c", "exp": clock["wall"] - 1})
    assert cache.get("long") == long_lived and cache.get("short") == short_lived
    assert cache.get("expired") is None

    clock["mono"] += 6
    clock["wall"] += 6
    assert cache.get("short") is None  # its own exp came first
    assert cache.get("long") == long_lived
    clock["mono"] += 25
    clock["wall"] += 25
    assert cache.get("long") is None  # the TTL: a withdrawn key stops counting within it
