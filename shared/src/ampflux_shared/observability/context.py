"""Context-local facts about the work in progress, read by logs and event envelopes."""

from __future__ import annotations

from contextvars import ContextVar

current_request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# In the embedded mode several services share one process (and one log handler): each
# request and lifespan sets the name of the service it runs in.
current_service: ContextVar[str | None] = ContextVar("service", default=None)


def current_request_id() -> str | None:
    return current_request_id_var.get()
