"""The gateway app: `create_app()` for tests and embedding, `run()` / `python -m ampflux_gateway`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware import Middleware

from ampflux_shared.app import ServiceSpec, create_service_app

from . import docs
from .api import router as operations_router
from .config import Settings, load_route_table
from .dispatch import GatewayRoute
from .gateway import Gateway
from .middleware import BodySizeLimitMiddleware
from .routes import RouteTable, path_matches

RATE_LIMIT_HEADERS = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Retry-After"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    table = load_route_table(settings)
    holder: dict[str, Gateway] = {}

    async def start(app: FastAPI) -> None:
        await holder["gateway"].start(app)

    async def stop(app: FastAPI) -> None:
        await holder["gateway"].stop(app)

    app = create_service_app(
        ServiceSpec(
            title="AmpFlux gateway",
            description="The single public entry: authentication, rate limits, routing to services, API docs.",
            settings=settings,
            routers=[operations_router, docs.router],
            metadata=None,
            verify_tokens=True,
            # Bodies are bounded by its own streaming limit (max_body_bytes) instead.
            limit_request_bodies=False,
            on_startup=[start],
            on_shutdown=[stop],
        )
    )
    _put_first(app, operations_router)
    gateway = holder["gateway"] = Gateway(settings, table, app.state.metrics)
    app.state.gateway = gateway
    _mount_routes(app, gateway)

    # Innermost, so a 413 still carries the request id and is counted in the metrics.
    app.user_middleware.append(
        Middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes, limit_for=_route_body_limit(table))
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials="*" not in settings.cors_origins,
            expose_headers=["X-Request-ID", *RATE_LIMIT_HEADERS],
            max_age=600,
        )
    return app


# The gateway's own paths; a route-table prefix covering one of them must not shadow it.
OWN_PATHS = ("/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi", "/openapi.json")


def _mount_routes(app: FastAPI, gateway: Gateway) -> None:
    """Proxy routes, longest prefix first.

    Those that cannot shadow an own path go in front of FastAPI's routes: every proxied
    request then matches at once instead of after a walk through the included routers.
    A prefix such as `/` goes last, so `/health` and the docs stay the gateway's.
    """
    front: list[GatewayRoute] = []
    back: list[GatewayRoute] = []
    for entry in gateway.table.entries:
        shadows = any(path_matches(entry.prefix, own) for own in OWN_PATHS)
        (back if shadows else front).append(GatewayRoute(entry, gateway))
    app.router.routes[:0] = front
    app.router.routes.extend(back)


def _route_body_limit(table: RouteTable) -> Callable[[str], int | None]:
    def limit_for(path: str) -> int | None:
        entry = table.match(path)
        return entry.max_body_bytes if entry is not None else None

    return limit_for


def _put_first(app: FastAPI, router: APIRouter) -> None:
    """Let the gateway's `/ready` win over the shared one (both are mounted at the same path).

    The shared `/ready` fails when any check fails; the gateway's reports each upstream
    without failing (see api/operations.py).
    """
    routes = app.router.routes
    for i, route in enumerate(routes):
        if getattr(route, "original_router", None) is router:
            routes.insert(0, routes.pop(i))
            return
    raise RuntimeError("operations router is not mounted")


def run() -> None:
    import uvicorn

    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        # X-Forwarded-* are handled by the gateway itself (see `trusted_proxies`).
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
    )
