"""Prometheus metrics with OpenTelemetry names (see STYLE.md).

Every service owns a `CollectorRegistry`: in the embedded mode all services run in one
process, and each `/metrics` must still show only its own figures.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNCOUNTED_PATHS = frozenset({"/health", "/ready", "/metrics"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    """The registry of one service, and get-or-create access to its collectors."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._collectors: dict[str, Any] = {}
        self.http_duration = self.histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests",
            ["http_request_method", "http_route", "http_response_status_code"],
            buckets=LATENCY_BUCKETS,
        )
        self.http_active = self.gauge("http_server_active_requests", "HTTP requests in flight", ["http_request_method"])

    def _get(self, kind: type, name: str, doc: str, labels: list[str] | tuple[str, ...] = (), **kw: Any) -> Any:
        existing = self._collectors.get(name)
        if existing is None:
            existing = kind(name, doc, labels, registry=self.registry, **kw)
            self._collectors[name] = existing
        return existing

    def counter(self, name: str, doc: str, labels: list[str] | tuple[str, ...] = ()) -> Counter:
        return self._get(Counter, name, doc, labels)

    def gauge(self, name: str, doc: str, labels: list[str] | tuple[str, ...] = ()) -> Gauge:
        return self._get(Gauge, name, doc, labels)

    def histogram(self, name: str, doc: str, labels: list[str] | tuple[str, ...] = (), **kw: Any) -> Histogram:
        return self._get(Histogram, name, doc, labels, **kw)


def metrics_response(metrics: ServiceMetrics) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The matched route's path template, so ids never become label values."""
    route = scope.get("route")  # the router records the route it dispatched to
    if route is not None and getattr(route, "path", None):
        return route.path
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path", "unmatched")
    return "unmatched"


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED_PATHS:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        active = self.metrics.http_active.labels(method)
        active.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            active.dec()
            self.metrics.http_duration.labels(method, route_template(scope), str(status)).observe(
                time.perf_counter() - start
            )
