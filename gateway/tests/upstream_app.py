"""A small upstream the gateway tests put behind the gateway, run with uvicorn in a subprocess.

Environment: INSTANCE (its name, echoed back), JWKS_FILE (JWKS to serve), SIGNING_KEY_FILE
(PEM private key, to play the auth service's API-key exchange), GOOD_API_KEY.

`python -m upstream_app PORT KEEP_ALIVE_S` runs it with an idle keep-alive of a fraction of a
second (uvicorn's command line takes whole seconds).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import jwt
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse

INSTANCE = os.environ.get("INSTANCE", "upstream")
app = FastAPI(title=f"test upstream {INSTANCE}")
hits: Counter[str] = Counter()
uploads: dict[str, int] = {}


def _count(path: str) -> None:
    hits[path] += 1
    hits["__total__"] += 1


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/_stats")
async def stats() -> dict[str, int]:
    return dict(hits)


@app.get("/_uploads/{upload_id}")
async def upload_progress(upload_id: str) -> dict[str, int]:
    return {"received": uploads.get(upload_id, 0)}


@app.get("/.well-known/jwks.json")
async def jwks() -> JSONResponse:
    return JSONResponse(json.loads(await asyncio.to_thread(Path(os.environ["JWKS_FILE"]).read_text)))


@app.post("/auth/api-keys/exchange")
async def exchange(request: Request) -> JSONResponse:
    _count("/auth/api-keys/exchange")
    if request.headers.get("x-api-key") != os.environ.get("GOOD_API_KEY"):
        return JSONResponse({"detail": "bad key"}, status_code=401)
    now = int(time.time())
    claims = {
        "iss": "ampflux-auth",
        "aud": "ampflux",
        "sub": "11111111-1111-1111-1111-111111111111",
        "company_id": "22222222-2222-2222-2222-222222222222",
        "roles": ["engineer"],
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "api_key_id": "key-1",
    }
    key = await asyncio.to_thread(Path(os.environ["SIGNING_KEY_FILE"]).read_bytes)
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "test-key"})
    return JSONResponse({"access_token": token, "expires_in": 600, "api_key_id": "key-1"})


@app.post("/upload/{upload_id}")
async def upload(upload_id: str, request: Request) -> dict[str, object]:
    _count("/upload")
    digest = hashlib.sha256()
    uploads[upload_id] = 0
    async for chunk in request.stream():
        digest.update(chunk)
        uploads[upload_id] += len(chunk)
    return {"instance": INSTANCE, "received": uploads[upload_id], "sha256": digest.hexdigest()}


@app.post("/open/big/refuse")
async def refuse_unread() -> JSONResponse:
    """Refuses the body without reading it, as a service's own body limit does: answer, then close."""
    _count("/open/big/refuse")
    problem = {"title": "Payload Too Large", "status": 413, "detail": "refused by the upstream"}
    headers = {"Connection": "close"}
    return JSONResponse(problem, status_code=413, media_type="application/problem+json", headers=headers)


@app.get("/download/big")
async def download(mib: int = 8) -> StreamingResponse:
    _count("/download")
    block = bytes(range(256)) * 4096  # 1 MiB

    async def body():
        for _ in range(mib):
            yield block

    return StreamingResponse(body(), media_type="application/octet-stream")


@app.get("/sse")
async def sse(gap: float = 2.0) -> StreamingResponse:
    _count("/sse")

    async def events():
        yield b"event: first\ndata: 1\n\n"
        await asyncio.sleep(gap)
        yield b"event: second\ndata: 2\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@app.get("/slow")
async def slow(s: float = 3.0) -> dict[str, str]:
    _count("/slow")
    await asyncio.sleep(s)
    return {"instance": INSTANCE}


@app.websocket("/ws/echo")
async def ws_echo(ws: WebSocket) -> None:
    _count("/ws/echo")
    await ws.accept(subprotocol=ws.scope.get("subprotocols", [None])[0] if ws.scope.get("subprotocols") else None)
    await ws.send_json(
        {
            "instance": INSTANCE,
            "authorization": ws.headers.get("authorization"),
            "request_id": ws.headers.get("x-request-id"),
        }
    )
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close-please":
                await ws.close(code=4001, reason="asked to")
                return
            if message.get("bytes") is not None:
                await ws.send_bytes(message["bytes"])
            else:
                await ws.send_text(message.get("text", ""))
    except WebSocketDisconnect:
        return


@app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def echo(path: str, request: Request) -> JSONResponse:
    _count("/" + path)
    body = await request.body()
    return JSONResponse(
        {
            "instance": INSTANCE,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": {k: v for k, v in request.headers.items()},
            "body_len": len(body),
        },
        headers={"Set-Cookie": "upstream=1; Path=/", "X-Upstream": INSTANCE},
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        timeout_keep_alive=float(sys.argv[2]),  # type: ignore[arg-type]  # typed int; a float works (a timer)
    )
