"""The gateway's own endpoints: readiness, docs of every service, metrics, CORS."""

from __future__ import annotations

PROBLEM = "application/problem+json"


async def test_health(client):
    assert (await client.get("/health")).json() == {"status": "ok"}


async def test_ready_lists_each_upstream_and_reports_a_down_one(client, upstreams):
    resp = await client.get("/ready")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "degraded"
    assert body["upstreams"]["echo"] == {u.url: "ok" for u in upstreams}
    (down_result,) = body["upstreams"]["down"].values()
    assert down_result.startswith("unreachable")
    assert body["token_keys"] == 1


async def test_service_docs_are_served_through_the_gateway(client):
    page = await client.get("/docs/echo")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "/openapi/echo.json" in page.text
    spec = await client.get("/openapi/echo.json")
    assert spec.status_code == 200
    doc = spec.json()
    assert doc["servers"] == [{"url": "/", "description": "AmpFlux gateway"}]
    assert "/upload/{upload_id}" in doc["paths"]
    # Paths the gateway does not route to this service are not offered.
    assert "/health" not in doc["paths"] and "/_stats" not in doc["paths"]
    # The gateway documents the answers it gives itself: 401 where it demands a token
    # (not on public routes), as problem+json with the shared Problem schema.
    upload = doc["paths"]["/upload/{upload_id}"]["post"]["responses"]
    assert upload["401"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "Problem" in doc["components"]["schemas"]
    assert "401" not in doc["paths"]["/_uploads/{upload_id}"]["get"]["responses"]
    auth_doc = (await client.get("/openapi/auth.json")).json()
    assert "/auth/api-keys/exchange" not in auth_doc["paths"]
    index = (await client.get("/openapi")).json()
    names = [s["name"] for s in index["services"]]
    assert names == sorted(names) and {"auth", "echo", "down"} <= set(names)
    assert {"name": "echo", "openapi": "/openapi/echo.json", "docs": "/docs/echo"} in index["services"]
    missing = await client.get("/docs/nope")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


async def test_metrics_have_the_named_series(client, make_token):
    await client.get("/echo/m", headers={"Authorization": f"Bearer {make_token()}"})
    await client.get("/limited/m", headers={"Authorization": f"Bearer {make_token()}"})
    text = (await client.get("/metrics")).text
    for name in (
        "http_server_request_duration_seconds_bucket",
        "http_server_active_requests",
        "http_client_request_duration_seconds_bucket",
        "ampflux_gateway_ratelimit_decisions_total",
        "ampflux_gateway_upstream_healthy",
    ):
        assert name in text, name
    assert 'http_route="/echo"' in text
    assert 'server_address="127.0.0.1:' in text


async def test_cors_exposes_rate_limit_headers(client, make_token):
    pre = await client.options(
        "/limited/x",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.example.com"
    resp = await client.get(
        "/limited/x", headers={"Origin": "https://app.example.com", "Authorization": f"Bearer {make_token()}"}
    )
    exposed = resp.headers["access-control-expose-headers"].lower()
    for h in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy", "retry-after"):
        assert h in exposed
