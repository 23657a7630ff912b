"""The gateway's own figures, on the service registry the shared app factory made."""

from __future__ import annotations

from ampflux_shared.observability import ServiceMetrics
from ampflux_shared.observability.metrics import LATENCY_BUCKETS


class GatewayMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        # Time until the upstream's response head arrived: streamed bodies (SSE, downloads)
        # would otherwise turn this into a measure of how long clients keep reading.
        self.upstream_duration = metrics.histogram(
            "http_client_request_duration_seconds",
            "Duration of HTTP requests to upstream services, until the response head",
            ["server_address", "http_request_method", "http_response_status_code", "error_type"],
            buckets=LATENCY_BUCKETS,
        )
        self.ratelimit_decisions = metrics.counter(
            "ampflux_gateway_ratelimit_decisions_total",
            "Rate-limit decisions by policy (decision: allowed or limited)",
            ["policy", "decision"],
        )
        self.upstream_healthy = metrics.gauge(
            "ampflux_gateway_upstream_healthy",
            "1 when the gateway routes to this upstream instance, 0 when it is marked down",
            ["service", "server_address"],
        )
        self.api_key_exchanges = metrics.counter(
            "ampflux_gateway_api_key_exchanges_total",
            "API-key authentications (result: cached, exchanged, rejected, error)",
            ["result"],
        )
