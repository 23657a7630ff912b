"""Request id: accepted from `X-Request-ID` only if it looks like one, else made fresh.

Kept in a context variable so logs and event envelopes written during the request carry it.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import current_request_id, current_request_id_var, current_service

REQUEST_ID_HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "accept_or_make", "current_request_id"]


def accept_or_make(candidate: str | None) -> str:
    return candidate if candidate and _VALID.match(candidate) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, service: str | None = None) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for k, v in scope.get("headers", []):
            if k == b"x-request-id":
                incoming = v.decode("latin-1")
                break
        rid = accept_or_make(incoming)
        scope.setdefault("state", {})["request_id"] = rid
        token = current_request_id_var.set(rid)
        service_token = current_service.set(self.service) if self.service else None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id_var.reset(token)
            if service_token is not None:
                current_service.reset(service_token)
