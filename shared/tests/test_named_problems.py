"""The named problems carry their status with them, and render as problem+json with the
slug, extra members and headers the caller gave."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.errors import (
    bad_gateway,
    bad_request,
    conflict,
    forbidden,
    gateway_timeout,
    not_found,
    relayed,
    too_large,
    too_many_requests,
    unauthorized,
    unavailable,
    unprocessable,
)
from ampflux_shared.settings import ServiceSettings

PROBLEMS = {
    "conflict": conflict("busy", slug="results-not-ready", status_of_run="queued"),
    "forbidden": forbidden("no", slug="password-required", errors=[{"path": "p", "code": "c", "message": "m"}]),
    "unauthorized": unauthorized("who?", slug="invalid-api-key", scheme="ApiKey"),
    "unprocessable": unprocessable("reused", slug="idempotency-key-reused"),
    "too_large": too_large("big", slug="document-too-large"),
    "too_many": too_many_requests("slow down", retry_after_s=0, slug="too-many-login-attempts", budget=15),
    "unavailable": unavailable("later", slug="project-service-unavailable", retry_after_s=5, message_id="m1"),
    "bad_gateway": bad_gateway("upstream said 500", slug="ai-provider-error", provider_status=500),
    "gateway_timeout": gateway_timeout("too slow", slug="ai-provider-timeout", message_id="m1"),
    "bad_request": bad_request("dot segments", slug="bad-path"),
    "not_found": not_found("service", detail="no service named 'x' behind this gateway"),
    "relayed": relayed(403, "refused the WebSocket (403)"),
    "rate_limited": too_many_requests(
        "rate limit", retry_after_s=7, slug="rate-limited", headers={"RateLimit-Limit": "5", "Retry-After": "99"}
    ),
}

router = APIRouter()


@router.get("/raise/{name}")
async def raise_named(name: str) -> None:
    raise PROBLEMS[name]


@pytest.fixture
async def client():
    app = create_service_app(
        ServiceSpec(title="t", settings=ServiceSettings(_env_file=None), routers=[router], verify_tokens=False)
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize(
    ("name", "status", "slug", "header"),
    [
        ("conflict", 409, "results-not-ready", None),
        ("forbidden", 403, "password-required", None),
        ("unauthorized", 401, "invalid-api-key", ("www-authenticate", "ApiKey")),
        ("unprocessable", 422, "idempotency-key-reused", None),
        ("too_large", 413, "document-too-large", None),
        ("too_many", 429, "too-many-login-attempts", ("retry-after", "1")),  # never below 1 s
        ("unavailable", 503, "project-service-unavailable", ("retry-after", "5")),
        ("bad_gateway", 502, "ai-provider-error", None),
        ("gateway_timeout", 504, "ai-provider-timeout", None),
        ("bad_request", 400, "bad-path", None),
        ("not_found", 404, "not-found", None),
        ("relayed", 403, "forbidden", None),  # no slug: the status phrase names it
        ("rate_limited", 429, "rate-limited", ("ratelimit-limit", "5")),
    ],
)
async def test_each_named_problem_renders_with_its_status_slug_and_headers(client, name, status, slug, header):
    r = await client.get(f"/raise/{name}")
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["type"].endswith(f"/{slug}")
    if header is not None:
        assert r.headers[header[0]] == header[1]
    if name == "conflict":
        assert body["status_of_run"] == "queued"
    if name == "forbidden":
        assert body["errors"][0]["path"] == "p"
    if name == "too_many":
        assert body["retry_after"] == 1 and body["budget"] == 15
    if name == "not_found":
        assert body["detail"] == "no service named 'x' behind this gateway"
    if name == "rate_limited":  # the computed Retry-After wins over one among the extra headers
        assert r.headers.get_list("retry-after") == ["7"] and body["retry_after"] == 7
    if name == "unavailable":
        assert body["message_id"] == "m1"
    if name == "bad_gateway":
        assert body["title"] == "Bad Gateway" and body["provider_status"] == 500
    if name == "gateway_timeout":
        assert body["title"] == "Gateway Timeout" and body["message_id"] == "m1"


def test_upstream_problems_default_to_their_status_phrase_as_slug():
    # The same `type` a bare ProblemError(502/504, ...) without a slug rendered before.
    assert bad_gateway("x").slug == "bad-gateway" and bad_gateway("x").status == 502
    assert gateway_timeout("x").slug == "gateway-timeout" and gateway_timeout("x").status == 504
