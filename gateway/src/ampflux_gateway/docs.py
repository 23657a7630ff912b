"""Every service's API docs under the gateway's one URL.

`/openapi` lists the services; `/docs/<service>` serves Swagger UI reading
`/openapi/<service>.json`, which is the service's own `/openapi.json` with `servers` pointing
at the gateway (so "Try it out" goes through it, tokens and rate limits included), only the
paths the gateway routes to it, and the problems the gateway itself answers on them.
"""

from __future__ import annotations

from typing import Any

import httpx
from cachetools import TTLCache
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from ampflux_shared.errors import bad_gateway, not_found, unavailable
from ampflux_shared.openapi import add_problem_schemas, document_problem
from ampflux_shared.security import public

from .gateway import Gateway

# API documentation is public, like the services' own /docs.
router = APIRouter(tags=["docs"], dependencies=[public()])
_CACHE_S = 30.0
_cache: TTLCache[tuple[int, str], dict[str, Any]] = TTLCache(maxsize=256, ttl=_CACHE_S)


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def _known(gw: Gateway, service: str) -> None:
    if service not in gw.table.services:
        raise not_found("service", detail=f"no service named {service!r} behind this gateway")


@router.get("/openapi", include_in_schema=False)
async def service_index(request: Request) -> dict[str, Any]:
    """Which services this gateway serves API documents for, and where."""
    names = sorted(_gateway(request).table.services)
    return {"services": [{"name": n, "openapi": f"/openapi/{n}.json", "docs": f"/docs/{n}"} for n in names]}


@router.get("/docs/{service}", include_in_schema=False)
async def service_docs(service: str, request: Request) -> HTMLResponse:
    _known(_gateway(request), service)
    return get_swagger_ui_html(
        openapi_url=f"/openapi/{service}.json",
        title=f"AmpFlux {service} API",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_ui_parameters={"persistAuthorization": True},
    )


@router.get("/openapi/{service}.json", include_in_schema=False)
async def service_openapi(service: str, request: Request) -> JSONResponse:
    gw = _gateway(request)
    _known(gw, service)
    key = (id(gw), service)
    cached = _cache.get(key)
    if cached is not None:
        return JSONResponse(cached)
    doc = _through_gateway(await _fetch(gw, service), gw, service)
    _cache[key] = doc
    return JSONResponse(doc)


async def _fetch(gw: Gateway, service: str) -> dict[str, Any]:
    pool = gw.registry.pool(service)
    inst = pool.pick() if pool else None
    if inst is None or gw.client is None:
        raise unavailable(f"no healthy instance of the {service} service is available", slug="upstream-unavailable")
    try:
        resp = await gw.client.get(f"{inst.base_url}/openapi.json", timeout=5.0)
        resp.raise_for_status()
        return resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise bad_gateway(
            f"could not read the {service} service's OpenAPI document ({type(exc).__name__})", slug="bad-gateway"
        ) from None


def _through_gateway(doc: dict[str, Any], gw: Gateway, service: str) -> dict[str, Any]:
    doc = dict(doc)
    doc["servers"] = [{"url": gw.settings.public_url or "/", "description": "AmpFlux gateway"}]
    # Keep what a caller can actually reach here: paths the table routes to this service.
    routed = {}
    for path, item in (doc.get("paths") or {}).items():
        entry = gw.table.match(path)
        if entry is not None and entry.service == service and not entry.is_internal(path):
            routed[path] = _with_gateway_problems(item, entry.rate_limit is not None, not entry.is_public(path))
    doc["paths"] = routed
    add_problem_schemas(doc)
    return doc


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _with_gateway_problems(item: dict[str, Any], rate_limited: bool, needs_token: bool) -> dict[str, Any]:
    """The answers the gateway gives itself before the service sees the request: 429 on a
    rate-limited route, 401 on one that needs a token. (`item` is freshly parsed: changed in place.)"""
    for key, operation in item.items():
        if key not in HTTP_METHODS:
            continue
        if rate_limited:
            document_problem(operation, 429)
        if needs_token:
            document_problem(operation, 401)
        operation["responses"] = dict(sorted(operation.get("responses", {}).items()))
    return item
