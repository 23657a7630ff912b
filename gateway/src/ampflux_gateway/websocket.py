"""WebSocket pass-through: one upstream connection per client connection, frames relayed
both ways until either side closes (its close code travels to the other side)."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ampflux_shared.errors import PROBLEM_MEDIA_TYPE, ProblemError, bad_gateway, problem_body, relayed, unavailable

from .routes import RouteEntry
from .upstreams import UpstreamPool

log = logging.getLogger("ampflux.gateway.websocket")

# Handshake fields the websockets client writes itself, and ones that only concern the hop.
_NOT_FORWARDED = frozenset(
    {
        b"host",
        b"connection",
        b"upgrade",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
        b"content-length",
        b"transfer-encoding",
        b"user-agent",
        # Only the gateway may vouch for a forwarded address (proxy.FORWARDED_SECRET_HEADER).
        b"x-ampflux-forwarded-secret",
    }
)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


async def refuse(scope: Scope, send: Send, problem: ProblemError) -> None:
    """Refuse the handshake with the problem as an HTTP answer when the server allows it."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps(problem_body(problem.status, slug=problem.slug, detail=problem.detail)).encode()
        headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in (problem.headers or {}).items()]
        await send({"type": "websocket.http.response.start", "status": problem.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008 if problem.status < 500 else 1011})


async def forward_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    entry: RouteEntry,
    pool: UpstreamPool,
    headers: list[tuple[bytes, bytes]],
) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    inst = pool.pick()
    if inst is None:
        await refuse(
            scope,
            send,
            unavailable(
                f"no healthy instance of the {entry.service} service is available", slug="upstream-unavailable"
            ),
        )
        return
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    url = "ws" + inst.base_url[4:] + target.decode("latin-1")
    subprotocols = list(scope.get("subprotocols") or ()) or None
    extra = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers if k not in _NOT_FORWARDED]
    try:
        upstream = await connect(
            url,
            additional_headers=extra,
            subprotocols=subprotocols,
            open_timeout=entry.timeout_s,
            proxy=None,
            compression=None,
            max_size=MAX_MESSAGE_BYTES,
            user_agent_header=None,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        await refuse(
            scope,
            send,
            relayed(status if status >= 400 else 502, f"the {entry.service} service refused the WebSocket ({status})"),
        )
        return
    except (OSError, TimeoutError, WebSocketException) as exc:
        if isinstance(exc, ConnectionRefusedError):
            pool.mark(inst, False, "connection refused")
        await refuse(
            scope,
            send,
            bad_gateway(
                f"the {entry.service} service is unreachable for WebSockets ({type(exc).__name__})",
                slug="upstream-unreachable",
            ),
        )
        return
    async with upstream:
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol, "headers": []})
        await _relay(receive, send, upstream)


async def _relay(receive: Receive, send: Send, upstream: ClientConnection) -> None:
    async def client_to_upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes")
                await upstream.send(data if data is not None else message.get("text", ""))
            elif message["type"] == "websocket.disconnect":
                await upstream.close(code=_passable(message.get("code", 1000)), reason=message.get("reason") or "")
                return

    async def upstream_to_client() -> None:
        try:
            async for data in upstream:
                if isinstance(data, bytes):
                    await send({"type": "websocket.send", "bytes": data})
                else:
                    await send({"type": "websocket.send", "text": data})
            code, reason = _close_of(upstream)
        except ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1011, "upstream connection lost")
        await send({"type": "websocket.close", "code": _passable(code), "reason": reason})

    tasks = [asyncio.ensure_future(client_to_upstream()), asyncio.ensure_future(upstream_to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, (ConnectionClosed, OSError)):
                log.warning("websocket relay ended with %s: %s", type(result).__name__, result)


def _close_of(conn: ClientConnection) -> tuple[int, str]:
    return conn.close_code or 1000, conn.close_reason or ""


def _passable(code: int) -> int:
    # 1005/1006/1015 are reserved for "no code"/"abnormal" and may not be sent in a frame.
    return 1000 if code in (1005, 1006, 1015) else code
