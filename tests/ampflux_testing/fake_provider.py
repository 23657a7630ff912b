"""A local OpenAI-compatible server for the tests: `/v1/chat/completions` (plain, streamed,
tool calls) and `/v1/models`, in a uvicorn thread.

It records every request body it was sent, and answers from a script the test queues:
text, tool calls, a delay before the first byte, a pause between chunks, an HTTP failure, or
a stream broken off midway. With nothing queued it answers "Echo: <last user message>".
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from .threaded_server import ThreadedServer


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{name, arguments}]
    delay_s: float = 0.0  # before anything is sent
    chunk_delay_s: float = 0.0  # between streamed chunks
    fail_status: int | None = None
    break_after_chunks: int | None = None  # stream: drop the connection after this many chunks
    prompt_tokens: int = 11
    chunk_chars: int = 4


Script = Reply | Callable[[dict[str, Any]], Reply]


class FakeProvider:
    def __init__(self, model: str = "fake-model", port: int | None = None, default: Reply | None = None) -> None:
        self.model = model
        # The answer when nothing is queued (None: echo the last user message).
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self._script: deque[Script] = deque()
        self.app = self._build()
        self._server = ThreadedServer(self.app, "fake provider", port)
        self.port = self._server.port
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *replies: Script) -> None:
        self._script.extend(replies)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "messages" in r]

    def start(self) -> FakeProvider:
        self._server.start()
        return self

    def stop(self) -> None:
        # Without waiting for replies still under way: a reply held for a killed client
        # (`delay_s`) would keep a graceful shutdown waiting until the join gave up (10 s).
        self._server.stop(force=True)

    def _next(self, body: dict[str, Any]) -> Reply:
        if self._script:
            item = self._script.popleft()
            return item(body) if callable(item) else item
        if self.default is not None:
            return self.default
        last = next((m for m in reversed(body["messages"]) if m.get("role") == "user"), {"content": ""})
        return Reply(text=f"Echo: {last.get('content')}")

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/v1/models")
        async def models(request: Request) -> dict[str, Any]:
            self.auth_headers.append(request.headers.get("authorization"))
            return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "test"}]}

        @app.post("/v1/chat/completions")
        async def completions(request: Request):
            body = await request.json()
            self.requests.append(body)
            self.auth_headers.append(request.headers.get("authorization"))
            reply = self._next(body)
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if reply.fail_status:
                return JSONResponse(
                    {"error": {"message": "scripted failure", "type": "server_error"}}, reply.fail_status
                )
            completion_tokens = max(1, len(reply.text) // 4) if reply.text else 1
            usage = {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": reply.prompt_tokens + completion_tokens,
            }
            calls = [
                {
                    "id": f"call_{uuid.uuid4().hex[:8]}",
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
                }
                for c in reply.tool_calls
            ]
            finish = "tool_calls" if calls else "stop"
            if not body.get("stream"):
                message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
                if calls:
                    message["tool_calls"] = calls
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": self.model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                }
            return StreamingResponse(self._stream(reply, calls, finish, usage), media_type="text/event-stream")

        return app

    async def _stream(
        self, reply: Reply, calls: list[dict[str, Any]], finish: str, usage: dict[str, int]
    ) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None, with_usage: bool = False) -> bytes:
            body: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": [] if with_usage else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            if with_usage:
                body["usage"] = usage
            return f"data: {json.dumps(body)}\n\n".encode()

        pieces = [reply.text[i : i + reply.chunk_chars] for i in range(0, len(reply.text), reply.chunk_chars)]
        sent = 0
        yield chunk({"role": "assistant", "content": ""})
        for sent, piece in enumerate(pieces):
            if reply.break_after_chunks is not None and sent >= reply.break_after_chunks:
                # An abrupt end: the connection closes without a finish_reason or [DONE].
                raise ConnectionResetError("scripted break")
            if reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
            yield chunk({"content": piece})
        for index, call in enumerate(calls):
            yield chunk({"tool_calls": [{"index": index, **call}]})
        yield chunk({}, finish)
        yield chunk({}, with_usage=True)
        yield b"data: [DONE]\n\n"


def main() -> None:
    """`python -m ampflux_testing.fake_provider` (with tests/ on PYTHONPATH): the benchmark's provider
    in its own process, answering every request with FAKE_PROVIDER_CHUNKS chunks of four
    characters, FAKE_PROVIDER_CHUNK_DELAY_S apart."""
    import os

    chunks = int(os.environ.get("FAKE_PROVIDER_CHUNKS", "50"))
    reply = Reply(text="abcd" * chunks, chunk_delay_s=float(os.environ.get("FAKE_PROVIDER_CHUNK_DELAY_S", "0.01")))
    fake = FakeProvider(port=int(os.environ["FAKE_PROVIDER_PORT"]), default=reply)
    fake._server.server.run()


if __name__ == "__main__":
    main()
