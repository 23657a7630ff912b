"""Rate limits: headers on every response, 429 past the budget, shared through Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest
from redis.asyncio import Redis

from ampflux_gateway.ratelimit.memory import MemoryBuckets
from ampflux_gateway.ratelimit.redis_bucket import RedisBuckets

PROBLEM = "application/problem+json"


def assert_limit_headers(resp: httpx.Response, policy: str, quota: int, window: int) -> None:
    assert resp.headers["ratelimit-limit"] == str(quota)
    assert int(resp.headers["ratelimit-remaining"]) >= 0
    assert int(resp.headers["ratelimit-reset"]) >= 0
    assert resp.headers["ratelimit-policy"] == f'"{policy}";q={quota};w={window}'
    assert not any(k.lower().startswith("x-ratelimit") for k in resp.headers)


async def _burst(client: httpx.AsyncClient, path: str, n: int, headers: dict[str, str]) -> list[httpx.Response]:
    return [await client.get(path, headers=headers) for _ in range(n)]


async def test_burst_over_the_limit_gets_429_with_all_headers(client, make_token):
    token = make_token()  # a fresh subject: a fresh budget
    responses = await _burst(client, "/limited/x", 7, {"Authorization": f"Bearer {token}"})
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 2
    policy = responses[0].headers["ratelimit-policy"].split('"')[1]
    for r in responses:
        assert_limit_headers(r, policy, 5, 60)
    assert [int(r.headers["ratelimit-remaining"]) for r in responses[:5]] == [4, 3, 2, 1, 0]
    refused = responses[-1]
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["status"] == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert int(refused.headers["retry-after"]) <= 12  # one token refills every 12 s
    assert "retry-after" not in responses[0].headers
    # Another subject has its own budget.
    other = await client.get("/limited/x", headers={"Authorization": f"Bearer {make_token()}"})
    assert other.status_code == 200


async def test_client_address_policy_counts_anonymous_callers(client):
    statuses = [(await client.get("/login-like/x")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_failed_authentication_spends_the_address_budget(client):
    # The session's gateway: its /limited policy is the session's own, and no other test sends
    # it a request without a valid token, so this address's budget there is whole.
    junk = {"Authorization": "Bearer junk"}
    statuses = [(await client.get("/limited/x", headers=junk)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


async def test_two_gateways_share_one_budget_through_redis(procs, upstreams, redis_url, make_token, routes_for):
    urls = [u.url for u in upstreams]
    suffix = "-" + uuid.uuid4().hex[:8]
    prefix = f"ampflux-test:{uuid.uuid4().hex}:"
    routes = routes_for(urls, policy_suffix=suffix)
    jwks = urls[0] + "/.well-known/jwks.json"
    gw1 = procs.gateway(routes, jwks_url=jwks, redis_url=redis_url, ratelimit_prefix=prefix, wait=False)
    gw2 = procs.gateway(routes, jwks_url=jwks, redis_url=redis_url, ratelimit_prefix=prefix, wait=False)
    procs.wait(gw1, gw2)
    auth = {"Authorization": f"Bearer {make_token()}"}
    statuses = []
    async with httpx.AsyncClient() as c:
        for i in range(8):
            r = await c.get((gw1 if i % 2 else gw2).url + "/limited/x", headers=auth)
            statuses.append(r.status_code)
            assert_limit_headers(r, f"test-limited{suffix}", 5, 60)
        assert sorted(statuses) == [200] * 5 + [429] * 3
        assert statuses[:5] == [200] * 5
        metrics = (await c.get(gw1.url + "/metrics")).text
    assert f'ampflux_gateway_ratelimit_decisions_total{{decision="limited",policy="test-limited{suffix}"}}' in metrics
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.keys(prefix + "*"), "the budget should live in Redis"
        await redis.delete(*await redis.keys(prefix + "*"))
    finally:
        await redis.aclose()


async def test_redis_bucket_script_refills_and_refuses(redis_url):
    prefix = f"ampflux-test:{uuid.uuid4().hex}:"
    buckets = RedisBuckets(redis_url, prefix)
    try:
        results = [await buckets.take("k", 3, 1000.0 / 3600, 60) for _ in range(4)]
        assert [a for a, _ in results] == [True, True, True, False]
        assert results[0][1] == pytest.approx(2, abs=0.01)
        assert results[3][1] < 1
        fast = [await buckets.take("fast", 1, 1000.0, 60) for _ in range(2)]
        assert fast[0][0] is True  # refills a token per millisecond
    finally:
        redis = Redis.from_url(redis_url)
        keys = await redis.keys(prefix + "*")
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await buckets.close()


async def test_memory_buckets_refill_over_time(monkeypatch):
    import ampflux_gateway.ratelimit.memory as memory

    now = [1000.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: now[0])
    buckets = MemoryBuckets()
    assert [(await buckets.take("k", 2, 0.5, 4))[0] for _ in range(3)] == [True, True, False]
    now[0] += 2.0  # one token back
    assert (await buckets.take("k", 2, 0.5, 4))[0] is True
    assert (await buckets.take("k", 2, 0.5, 4))[0] is False
