"""The gateway's body limit is the platform's one (`ampflux_shared.body_limit`), with its own bound."""

from ampflux_shared.body_limit import BodySizeLimitMiddleware, RequestBodyTooLarge

__all__ = ["BodySizeLimitMiddleware", "RequestBodyTooLarge"]
