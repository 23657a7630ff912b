"""Streaming HTTP proxy: request and response bodies flow through, never held whole.

Every upstream call goes through the one keep-alive pool of the shared `httpx.AsyncClient`;
proxied requests are handed straight to that client's transport, because the client's own
layers (cookie jar, auth flow, redirects) are exactly what a proxy must not apply. An instance
that refuses a connection is marked down and the request moves to the next instance, as
long as its body can still be sent whole (none of it sent yet, or all of it sent so far kept).

A request that meets a kept-alive connection the upstream closed before answering is sent
once more, whatever its method, when its body can be replayed: the upstream closed the idle
connection as we reused it and never read the request (`StaleConnectionError`). Bodies up to
`REPLAY_LIMIT` are kept while they stream so they can be; larger ones are not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import httpx
from starlette.types import Message, Receive, Scope, Send

from ampflux_shared.errors import ProblemError, bad_gateway, gateway_timeout, unavailable

from .metrics import GatewayMetrics
from .routes import RouteEntry
from .transport import StaleConnectionError
from .upstreams import Instance, UpstreamPool

log = logging.getLogger("ampflux.gateway.proxy")

# RFC 9110 §7.6.1 connection-specific fields, plus the ones the gateway sets itself.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
    }
)
# Proves to a service that X-Forwarded-For was written by this gateway (see `forwarded_secret`).
FORWARDED_SECRET_HEADER = b"x-ampflux-forwarded-secret"
_SET_BY_GATEWAY = frozenset(
    {
        b"host",
        b"x-request-id",
        b"x-api-key",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"forwarded",
        FORWARDED_SECRET_HEADER,
    }
)
# uvicorn writes its own `date`; the gateway sends no `server` banner of its own or theirs.
_RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server"}
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Request bodies up to this size are kept as they stream upstream, so the request can be sent
# again on another connection; JSON writes are far smaller, uploads are streamed unkept.
REPLAY_LIMIT = 64 * 1024


class ClientDisconnected(Exception):
    """The client went away while its request body was being streamed upstream."""


def connection_listed(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Field names a `Connection` header declares hop-by-hop for this message."""
    names: set[bytes] = set()
    for k, v in headers:
        if k.lower() == b"connection":
            names.update(t.strip().lower() for t in v.split(b","))
    return frozenset(names)


def forwarded_headers(
    scope: Scope, *, trusted_proxies: int, request_id: str, bearer: str | None, forwarded_secret: bytes | None = None
) -> list[tuple[bytes, bytes]]:
    """The request headers to send upstream.

    X-Forwarded-* from the client are kept (and extended) only when trusted proxies stand in
    front of the gateway; otherwise they are replaced with what the gateway itself saw. A
    client's own `X-AmpFlux-Forwarded-Secret` is always dropped; the gateway's is added when set.
    """
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    listed = connection_listed(raw)
    out: list[tuple[bytes, bytes]] = []
    host = xff = proto = fwd_host = None
    for k, v in raw:
        if k in HOP_BY_HOP or k in listed:
            continue
        if k in _SET_BY_GATEWAY:
            if k == b"host":
                host = v
            elif k == b"x-forwarded-for":
                xff = v if xff is None else xff + b", " + v
            elif k == b"x-forwarded-proto":
                proto = v
            elif k == b"x-forwarded-host":
                fwd_host = v
            continue
        if bearer is not None and k == b"authorization":
            continue
        out.append((k, v))
    peer = scope["client"][0].encode() if scope.get("client") else b""
    if trusted_proxies and xff:
        out.append((b"x-forwarded-for", xff + b", " + peer))
    else:
        out.append((b"x-forwarded-for", peer))
    out.append((b"x-forwarded-proto", proto if trusted_proxies and proto else scope.get("scheme", "http").encode()))
    forwarded_host = fwd_host if trusted_proxies and fwd_host else host
    if forwarded_host:
        out.append((b"x-forwarded-host", forwarded_host))
    out.append((b"x-request-id", request_id.encode()))
    if forwarded_secret:
        out.append((FORWARDED_SECRET_HEADER, forwarded_secret))
    if bearer is not None:
        out.append((b"authorization", b"Bearer " + bearer.encode()))
    return out


class RequestBody:
    """The client's body as an async iterator for httpx, read from ASGI as it arrives.

    What has been read is kept while it stays within `replay_limit`, so iterating again
    replays it and then goes on reading: the request can be sent once more on another
    connection. A body declared or found larger is streamed without being kept.
    """

    def __init__(self, receive: Receive, *, declared_length: int | None = None, replay_limit: int = REPLAY_LIMIT):
        self._receive = receive
        self._limit = replay_limit
        fits = declared_length is None or declared_length <= replay_limit
        self._kept: list[bytes] | None = [] if fits else None
        self._kept_bytes = 0
        self.started = False
        self.done = False

    @property
    def replayable(self) -> bool:
        """Whether the whole body can still be sent again from its start."""
        return not self.started or self._kept is not None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.started:
            if self._kept is None:
                raise RuntimeError("the request body was streamed unkept and cannot be sent again")
            for chunk in list(self._kept):
                yield chunk
        self.started = True
        while not self.done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            if not message.get("more_body", False):
                self.done = True
            if chunk:
                self._keep(chunk)
                yield chunk

    def _keep(self, chunk: bytes) -> None:
        if self._kept is None:
            return
        self._kept_bytes += len(chunk)
        if self._kept_bytes > self._limit:
            self._kept = None  # too large to keep: this request is not sent again
        else:
            self._kept.append(chunk)


def _has_body(scope: Scope) -> bool:
    return any(k == b"transfer-encoding" or (k == b"content-length" and v.strip() != b"0") for k, v in scope["headers"])


def _declared_length(scope: Scope) -> int | None:
    for k, v in scope["headers"]:
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def _may_send_again(exc: Exception, method: str, body: RequestBody | None) -> bool:
    """After the connection broke without an answer: is sending the request again safe?"""
    if isinstance(exc, StaleConnectionError):
        # Closed as we reused it, before a byte of answer: the upstream never read it.
        return body is None or body.replayable
    # Otherwise (httpx's own transport cannot tell a reused connection): idempotent, no body.
    return method in _IDEMPOTENT and body is None


class HttpProxy:
    def __init__(self, metrics: GatewayMetrics, connect_timeout_s: float) -> None:
        self._metrics = metrics
        self._connect_timeout = connect_timeout_s
        self.transport: httpx.AsyncBaseTransport | None = None

    async def forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        entry: RouteEntry,
        pool: UpstreamPool,
        headers: list[tuple[bytes, bytes]],
        extra_response_headers: list[tuple[bytes, bytes]],
    ) -> None:
        assert self.transport is not None, "proxy used before start-up"
        method: str = scope["method"]
        body = RequestBody(receive, declared_length=_declared_length(scope)) if _has_body(scope) else None
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target = target + b"?" + scope["query_string"]
        timeout = {
            "connect": min(self._connect_timeout, entry.timeout_s),
            "read": entry.timeout_s,
            "write": entry.timeout_s,
            "pool": entry.timeout_s,
        }
        tried: set[Instance] = set()
        connect_timed_out = False
        retried_stale = False
        while True:
            inst = pool.pick(exclude=tried)
            if inst is None:
                if connect_timed_out:
                    raise _timed_out(entry)
                if tried:
                    raise _unreachable(entry, tried)
                raise unavailable(
                    f"no healthy instance of the {entry.service} service is available", slug="upstream-unavailable"
                )
            request = httpx.Request(
                method,
                inst.base_url + target.decode("latin-1"),
                headers=headers,
                content=body,
                extensions={"timeout": timeout},
            )
            started = time.perf_counter()
            try:
                response = await self.transport.handle_async_request(request)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self._observe(inst, method, started, error=type(exc).__name__)
                pool.mark(inst, False, type(exc).__name__)
                connect_timed_out = isinstance(exc, httpx.ConnectTimeout)
                if body is not None and not body.replayable:
                    raise (_timed_out(entry) if connect_timed_out else _unreachable(entry, {inst})) from None
                tried.add(inst)
            except httpx.TimeoutException as exc:
                self._observe(inst, method, started, error=type(exc).__name__)
                raise _timed_out(entry) from None
            except ClientDisconnected:
                return
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                self._observe(inst, method, started, error=type(exc).__name__)
                # A pooled keep-alive connection the upstream closed just as we reused it:
                # safe to send once more when nothing of the request can have been applied.
                if not retried_stale and _may_send_again(exc, method, body):
                    retried_stale = True
                    log.info("resending %s %s: %s", method, entry.service, exc)
                    continue
                raise bad_gateway(
                    f"the {entry.service} service closed the connection without an answer", slug="bad-gateway"
                ) from None
        self._observe(inst, method, started, status=response.status_code)
        if not inst.healthy:
            pool.mark(inst, True, "answered a request")
        try:
            await self._relay(response, scope, receive, send, body, extra_response_headers)
        finally:
            await response.aclose()

    async def _relay(
        self,
        response: httpx.Response,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: RequestBody | None,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> None:
        raw = response.headers.raw
        listed = connection_listed(raw)
        out = [(k.lower(), v) for k, v in raw]
        out = [(k, v) for k, v in out if k not in _RESPONSE_DROP and k not in listed]
        bounded = any(k == b"content-length" for k, _ in out)
        out.extend(extra_headers)
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if bounded or (body is not None and not body.done):
            await _pump(response, send)
            return
        # Open-ended bodies (SSE, chunked streams) may never end on their own: stop
        # reading upstream as soon as the client disconnects.
        pump = asyncio.ensure_future(_pump(response, send))
        watch = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not pump.done():
                pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def _observe(self, inst: Instance, method: str, started: float, *, status: int = 0, error: str = "") -> None:
        self._metrics.upstream_duration.labels(inst.address, method, str(status) if status else "", error).observe(
            time.perf_counter() - started
        )


async def _pump(response: httpx.Response, send: Send) -> None:
    async for chunk in response.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


def _timed_out(entry: RouteEntry) -> ProblemError:
    return gateway_timeout(
        f"the {entry.service} service did not answer within {entry.timeout_s:g} s", slug="upstream-timeout"
    )


def _unreachable(entry: RouteEntry, tried: set[Instance]) -> ProblemError:
    where = ", ".join(sorted(i.address for i in tried))
    return bad_gateway(
        f"the {entry.service} service is unreachable (connection refused at {where})", slug="upstream-unreachable"
    )
