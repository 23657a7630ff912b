"""The body-size limit: a body over it is a 413 problem, declared or streamed; a route named
in `exempt` (method, path) streams under limits of its own and passes through."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ampflux_shared.body_limit import BodySizeLimitMiddleware


async def _count(request: Request) -> JSONResponse:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return JSONResponse({"size": size})


def _client() -> httpx.AsyncClient:
    # Where services have it: a user middleware, inside Starlette's error middleware.
    app = Starlette(
        routes=[Route("/upload", _count, methods=["POST"]), Route("/other", _count, methods=["POST"])],
        middleware=[Middleware(BodySizeLimitMiddleware, max_body_bytes=100, exempt=[("POST", "/upload")])],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_body_over_the_limit_is_413_unless_the_route_is_exempt():
    async with _client() as client:
        r = await client.post("/other", content=b"x" * 101)
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"

        async def chunks():
            for _ in range(3):
                yield b"x" * 60

        r = await client.post("/other", content=chunks())
        assert r.status_code == 413
        assert (await client.post("/other", content=b"x" * 100)).json() == {"size": 100}
        # The exempt route takes what the others may not, declared or streamed.
        assert (await client.post("/upload", content=b"x" * 1000)).json() == {"size": 1000}
        assert (await client.post("/upload", content=chunks())).json() == {"size": 180}
