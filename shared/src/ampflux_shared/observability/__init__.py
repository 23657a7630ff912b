"""Request ids, JSON logs and Prometheus metrics."""

from .logging import configure_logging
from .metrics import HttpMetricsMiddleware, ServiceMetrics, metrics_response
from .request_id import REQUEST_ID_HEADER, RequestIdMiddleware, current_request_id

__all__ = [
    "REQUEST_ID_HEADER",
    "HttpMetricsMiddleware",
    "RequestIdMiddleware",
    "ServiceMetrics",
    "configure_logging",
    "current_request_id",
    "metrics_response",
]
