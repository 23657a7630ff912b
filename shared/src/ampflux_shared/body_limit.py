"""Refuse request bodies over a size limit with a 413 problem, without buffering them.

A declared `Content-Length` over the limit is refused before a byte is read. A chunked
body (no length) is counted as it streams through; the moment it passes the limit the
stream is cut and, if no answer has started yet, the client gets the 413.

Every service app has it with `max_document_bytes` (the one document limit); the gateway
with its own `max_body_bytes`. A route that streams large bodies under limits of its own
(the AI service's file upload) is named in `exempt` as (method, path) and passes through.
The gateway gives some routes a limit of their own (`limit_for`: the route table's
`max_body_bytes`, e.g. file uploads), falling back to `max_body_bytes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import problem_response


class RequestBodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        exempt: Iterable[tuple[str, str]] = (),
        limit_for: Callable[[str], int | None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.exempt = frozenset(exempt)
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        if self.limit_for is not None:
            limit = self.limit_for(scope["path"]) or limit
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await self._refuse(scope, receive, send, limit)
                    return
                break

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestBodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestBodyTooLarge:
            if not response_started:
                await self._refuse(scope, receive, send, limit)
        except Exception as exc:
            # Raised inside an HTTP client while it read the body: find our cause underneath.
            if _caused_by_limit(exc) and not response_started:
                await self._refuse(scope, receive, send, limit)
            else:
                raise

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413,
            slug="payload-too-large",
            detail=f"the request body exceeds the limit of {limit} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _caused_by_limit(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, RequestBodyTooLarge):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
