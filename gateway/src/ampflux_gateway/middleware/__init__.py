"""Plain ASGI middleware of the gateway."""

from .body_limit import BodySizeLimitMiddleware

__all__ = ["BodySizeLimitMiddleware"]
