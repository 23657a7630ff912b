"""An upstream that closes every kept-alive connection as the next request arrives on it.

This is uvicorn's keep-alive expiry racing the gateway's reuse of an idle connection, made
certain: the first request on a connection is answered (keep-alive), any later one meets a
closed connection before a byte of answer, its request unread. Run as
`python closing_upstream.py PORT`. `GET /_stats` (on a fresh connection) reports what was
answered and how many requests were dropped unread.

Answers echo the method, the body's length and SHA-256, so a test can see a retried request
arrive whole and exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections import Counter

import h11

stats: Counter[str] = Counter()


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> tuple[h11.Request, bytes] | None:
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            if not data and request is None:
                return None
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _answer(request: h11.Request, body: bytes) -> tuple[int, bytes]:
    path = request.target.decode()
    if path == "/health":
        return 200, b'{"status": "ok"}'
    if path == "/_stats":
        return 200, json.dumps(stats).encode()
    stats[f"{request.method.decode()} {path}"] += 1
    seen = {"method": request.method.decode(), "body_len": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    return 200, json.dumps(seen).encode()


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        got = await _read_request(conn, reader)
        if got is None:
            return
        status, payload = _answer(*got)
        headers = [("content-type", "application/json"), ("content-length", str(len(payload)))]
        writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
        writer.write(conn.send(h11.Data(data=payload)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        # Kept alive, until the next request starts to arrive: then closed, unread and unanswered.
        if await reader.read(1):
            stats["dropped unread"] += 1
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
