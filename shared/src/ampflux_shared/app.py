"""One call that wires a service with everything in `shared/`.

`create_service_app` gives a FastAPI app with problem+json errors, request ids, JSON logs,
metrics, `/health`, `/ready`, `/metrics`, and a lifespan that opens the database (running the
service's migrations in the embedded mode), the event bus, the outbox relay and the token
verifier. Services add their routers and, if they consume events, their subscriptions.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .body_limit import BodySizeLimitMiddleware
from .circuit.schema import publish_in_openapi as publish_circuit_schema
from .errors import install_database_error_handlers, install_error_handlers
from .health import ReadinessCheck
from .health import router as health_router
from .observability import (
    HttpMetricsMiddleware,
    RequestIdMiddleware,
    ServiceMetrics,
    configure_logging,
    metrics_response,
)
from .observability.context import current_service
from .openapi import install_problem_openapi
from .security import JWKSVerifier
from .settings import ServiceSettings

if TYPE_CHECKING:
    # Only for annotations: a service without a database or events (the gateway) never
    # imports SQLAlchemy, Alembic or the bus, which would add seconds to every start.
    from sqlalchemy import MetaData

    from .events import EventTables

log = logging.getLogger("ampflux.app")

Hook = Callable[[FastAPI], Awaitable[None]]


@dataclass
class ServiceSpec:
    """What a service tells the factory about itself."""

    title: str
    settings: ServiceSettings
    routers: Sequence[APIRouter] = ()
    version: str = "0.1.0"
    description: str = ""
    # Database: the service's MetaData and its Alembic folder; None for services without one.
    metadata: MetaData | None = None
    migrations_dir: Path | None = None
    # Events: set when the service writes to an outbox (its EventTables on `metadata`).
    event_tables: EventTables | None = None
    # Token verification; the auth service passes a key source reading its own keys.
    verifier: JWKSVerifier | None = None
    verify_tokens: bool = True
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    # `/ready` fails when one of `readiness_checks` fails; a failing degraded check is only
    # reported ("status": "degraded", still 200): the service works around it.
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    degraded_readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    cors_origins: Sequence[str] = ()
    # Refuse request bodies over `settings.max_document_bytes` (413); the gateway, which
    # has its own transport limit, turns it off.
    limit_request_bodies: bool = True
    # (method, path) of routes that stream large bodies under limits of their own (uploads).
    body_limit_exempt: Sequence[tuple[str, str]] = ()


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        current_service.set(settings.service_name)  # this lifespan's task logs as this service
        async with AsyncExitStack() as stack:
            checks: dict[str, ReadinessCheck] = dict(spec.readiness_checks)
            degraded_checks: dict[str, ReadinessCheck] = dict(spec.degraded_readiness_checks)
            if spec.metadata is not None:
                from .db import Database
                from .migrations import upgrade_to_head_async

                url = settings.resolved_database_url()
                if settings.migrate_on_start and spec.migrations_dir is not None:
                    # Creates the database first if needed; synchronous driver calls, off the event loop.
                    await upgrade_to_head_async(spec.migrations_dir, url, f"alembic_version_{settings.service_name}")
                db = Database.from_settings(settings)
                stack.push_async_callback(db.dispose)
                app.state.db = db
                checks["database"] = db.ping
            if spec.event_tables is not None:
                from .events import OutboxRelay, create_bus

                bus = create_bus(settings.amqp_url, registry=metrics.registry)
                await bus.start()
                stack.push_async_callback(bus.stop)
                app.state.bus = bus
                # Degrades, never fails, readiness: the outbox holds events while it is away.
                degraded_checks["broker"] = bus.ping
                relay = OutboxRelay(
                    app.state.db,
                    bus,
                    spec.event_tables,
                    registry=metrics.registry,
                    retention=timedelta(days=settings.events_retention_days),
                )
                await relay.start()
                stack.push_async_callback(relay.stop)
                app.state.relay = relay
            if spec.verify_tokens:
                verifier = spec.verifier or JWKSVerifier(
                    settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience
                )
                app.state.verifier = verifier
                # Started after on_startup hooks (the auth service creates its keys there).
            app.state.readiness_checks = checks
            app.state.degraded_readiness_checks = degraded_checks
            for hook in spec.on_startup:
                await hook(app)
            for hook in reversed(spec.on_shutdown):
                stack.push_async_callback(hook, app)
            if spec.verify_tokens:
                await app.state.verifier.start()
                stack.push_async_callback(app.state.verifier.stop)
            log.info("%s started", settings.service_name)
            yield

    app = FastAPI(
        title=spec.title,
        version=spec.version,
        description=spec.description,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    if spec.metadata is not None:
        install_database_error_handlers(app)
    # OpenAPI documents the problem answers each route really gives (derived, see openapi.py).
    install_problem_openapi(app)
    app.include_router(health_router)

    @app.get("/metrics", include_in_schema=False)
    async def _metrics():
        return metrics_response(metrics)

    for router in spec.routers:
        app.include_router(router)
    # A service that serves the circuit document's JSON Schema also publishes it in OpenAPI.
    publish_circuit_schema(app)
    # Outermost first: request id wraps everything so metrics and logs see it.
    if spec.limit_request_bodies:
        # Innermost: a 413 still carries the request id and is counted in the metrics.
        app.add_middleware(
            BodySizeLimitMiddleware, max_body_bytes=settings.max_document_bytes, exempt=spec.body_limit_exempt
        )
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    if spec.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(spec.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestIdMiddleware, service=settings.service_name)
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run one service with uvicorn (its own process in the real stack)."""
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, proxy_headers=False)
