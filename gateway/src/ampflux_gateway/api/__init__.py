"""The gateway's own endpoints (not proxied)."""

from .operations import router

__all__ = ["router"]
