"""A lean HTTP/1.1 keep-alive transport for the gateway's `httpx.AsyncClient`.

httpx's default pool (httpcore 1.0) re-examines every pooled connection, with a socket
readability check each, on every request and every response close — quadratic in the pool
size — and it creates several anyio locks per request. Profiling the gateway at 32
concurrent requests put about three quarters of its CPU there. This transport keeps what
the gateway needs and nothing else: per-origin LIFO stacks of idle connections on asyncio
streams, h11 for the protocol, streamed bodies both ways, httpx's timeouts and exception
types. HTTPS origins go to httpx's own transport.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import h11
import httpx

_READ_SIZE = 64 * 1024
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})


class StaleConnectionError(httpx.RemoteProtocolError):
    """A reused keep-alive connection ended before a single byte of the answer came back.

    The upstream closed the idle connection as we reused it (uvicorn's keep-alive expiry
    racing our request), so it never read the request: the caller may send it again on
    another connection, whatever the method, if it can replay the body.
    """


class _Protocol(asyncio.StreamReaderProtocol):
    """asyncio's stream protocol, keeping what the upstream sent before a reset.

    A service refuses a body it will not take (over its size limit, say) before reading it:
    it answers and closes. The kernel resets a connection closed over unread data, so our
    next write fails, and asyncio then closes the socket without reading the rest of its
    receive queue, and marks the reader failed, which hides what it already holds: the
    answer is lost either way. Here the rest is read before the socket goes, and the reader
    sees the reset as the end of the stream: what came is read, and h11 tells whether it is
    a whole answer. Writing still fails.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        super().__init__(reader)
        self._reader = reader
        self._fd = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self._fd >= 0:
            rest = _unread(self._fd)
            if rest:
                self._reader.feed_data(rest)
        super().connection_lost(None)


def _unread(fd: int) -> bytes:
    """What the kernel still holds for a non-blocking socket, read until it has no more."""
    parts: list[bytes] = []
    while True:
        try:
            data = os.read(fd, _READ_SIZE)
        except OSError:  # nothing more queued (would block), or the reset itself
            break
        if not data:
            break
        parts.append(data)
    return b"".join(parts)


class _Connection:
    __slots__ = ("h11", "idle_since", "reader", "received", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=64 * 1024)
        self.idle_since = 0.0
        self.reused = False
        self.received = False  # any byte of the current exchange's answer

    def usable(self, now: float, expiry: float) -> bool:
        return (
            now - self.idle_since < expiry
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and self.h11.our_state is h11.IDLE
        )

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


class _Origin:
    def __init__(self, max_connections: int) -> None:
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(max_connections)


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    return request.extensions.get("timeout", {})


class UpstreamTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections_per_origin: int, max_idle_per_origin: int, keepalive_expiry_s: float) -> None:
        self._max_connections = max_connections_per_origin
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry_s
        self._origins: dict[tuple[str, int], _Origin] = {}
        self._tls = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=max_connections_per_origin, keepalive_expiry=keepalive_expiry_s)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            return await self._tls.handle_async_request(request)
        key = (request.url.host, request.url.port or 80)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(self._max_connections)
        timeouts = _timeouts(request)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await origin.slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no upstream connection free in time", request=request) from None
        try:
            return await self._exchange(request, key, origin, timeouts)
        except BaseException:
            origin.slots.release()
            raise

    async def _exchange(
        self, request: httpx.Request, key: tuple[str, int], origin: _Origin, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        retry_allowed = request.method.encode() in _IDEMPOTENT and not _has_body(request)
        while True:
            conn = await self._connection(request, key, origin, timeouts)
            conn.received = False
            try:
                try:
                    await self._send(conn, request, timeouts)
                except httpx.WriteError:
                    # The upstream may have answered before it read the whole body, and closed:
                    # that answer stands (RFC 9112, 9.3: the client stops sending and reads it).
                    if not conn.writer.is_closing():
                        raise
                response = await self._receive_head(conn, request, timeouts)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                conn.close()
                # A kept-alive connection the upstream closed just before we reused it: the
                # request never reached it, so one more try on a fresh connection is safe.
                if conn.reused and retry_allowed:
                    retry_allowed = False
                    continue
                if conn.reused and not conn.received:
                    raise StaleConnectionError(
                        "the upstream closed a kept-alive connection before answering", request=request
                    ) from None
                raise
            except BaseException:
                conn.close()
                raise
            return httpx.Response(
                status_code=response.status_code,
                headers=response.headers.raw_items(),
                stream=_ResponseBody(self, conn, origin, request, timeouts),
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
            )

    async def _connection(
        self, request: httpx.Request, key: tuple[str, int], origin: _Origin, timeouts: dict[str, float | None]
    ) -> _Connection:
        now = time.monotonic()
        while origin.idle:
            conn = origin.idle.pop()  # most recently used first: likeliest to be alive
            if conn.usable(now, self._expiry):
                conn.reused = True
                return conn
            conn.close()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                loop = asyncio.get_running_loop()
                reader = asyncio.StreamReader(limit=_READ_SIZE, loop=loop)
                protocol = _Protocol(reader)
                transport, _ = await loop.create_connection(lambda: protocol, key[0], key[1])
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {key[0]}:{key[1]} timed out", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {key[0]}:{key[1]}: {exc}", request=request) from None
        return _Connection(reader, asyncio.StreamWriter(transport, protocol, reader, loop))

    async def _send(self, conn: _Connection, request: httpx.Request, timeouts: dict[str, float | None]) -> None:
        target = request.url.raw_path
        head = h11.Request(method=request.method, target=target, headers=request.headers.raw)
        try:
            _write(conn, conn.h11.send(head), request)
            if _has_body(request):
                # An AsyncClient's request streams asynchronously (bytes bodies are both kinds).
                assert isinstance(request.stream, httpx.AsyncByteStream)
                async for chunk in request.stream:
                    if chunk:
                        _write(conn, conn.h11.send(h11.Data(data=chunk)), request)
                        await self._drain(conn, request, timeouts)
            _write(conn, conn.h11.send(h11.EndOfMessage()), request)
            await self._drain(conn, request, timeouts)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from None

    async def _drain(self, conn: _Connection, request: httpx.Request, timeouts: dict[str, float | None]) -> None:
        try:
            async with asyncio.timeout(timeouts.get("write")):
                await conn.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("writing to the upstream timed out", request=request) from None
        except OSError as exc:
            raise httpx.WriteError(str(exc), request=request) from None

    async def _receive_head(
        self, conn: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> h11.Response:
        while True:
            event = await _next_event(conn, request, timeouts)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} from upstream", request=request)

    def _release(self, conn: _Connection, origin: _Origin, reusable: bool) -> None:
        origin.slots.release()
        if reusable and conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            conn.idle_since = time.monotonic()
            if len(origin.idle) < self._max_idle:
                origin.idle.append(conn)
                return
        conn.close()

    async def aclose(self) -> None:
        for origin in self._origins.values():
            for conn in origin.idle:
                conn.close()
            origin.idle.clear()
        await self._tls.aclose()


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(
        self,
        transport: UpstreamTransport,
        conn: _Connection,
        origin: _Origin,
        request: httpx.Request,
        timeouts: dict[str, float | None],
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._origin = origin
        self._request = request
        self._timeouts = timeouts
        self._complete = False
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            event = await _next_event(self._conn, self._request, self._timeouts)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._complete = True
                self._done()
                return
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("upstream closed the connection mid-body", request=self._request)

    async def aclose(self) -> None:
        self._done()

    def _done(self) -> None:
        # A body not read to its end leaves the connection mid-message: it cannot be reused.
        if not self._released:
            self._released = True
            self._transport._release(self._conn, self._origin, reusable=self._complete)


def _write(conn: _Connection, data: bytes | None, request: httpx.Request) -> None:
    # A closed transport cannot be written to: asyncio's drops the data, uvloop's (the
    # gateway runs on it) raises a RuntimeError, which would have answered the client a 500.
    if conn.writer.is_closing():
        raise httpx.WriteError("the upstream closed the connection", request=request)
    if data:
        conn.writer.write(data)


async def _next_event(conn: _Connection, request: httpx.Request, timeouts: dict[str, float | None]) -> object:
    while True:
        try:
            event = conn.h11.next_event()
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        if event is not h11.NEED_DATA:
            return event
        try:
            async with asyncio.timeout(timeouts.get("read")):
                data = await conn.reader.read(_READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout("the upstream did not answer in time", request=request) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from None
        if data:
            conn.received = True
        if not data and conn.h11.their_state is h11.SEND_RESPONSE:
            raise httpx.RemoteProtocolError("upstream closed the connection without an answer", request=request)
        conn.h11.receive_data(data)


def _has_body(request: httpx.Request) -> bool:
    headers = request.headers
    return ("content-length" in headers and headers["content-length"] != "0") or "transfer-encoding" in headers
