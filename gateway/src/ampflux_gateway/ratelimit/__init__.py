"""Token-bucket rate limiting: in-process, or shared between replicas through Redis."""

from .policy import Decision, RateLimiter

__all__ = ["Decision", "RateLimiter"]
