"""A local stand-in for Ollama's native API, in a uvicorn thread: `/api/tags`, `/api/ps`,
`/api/show`, `/api/pull` (streamed NDJSON progress, layer by layer), `/api/generate` with no
prompt (load, or unload with `keep_alive: 0`). It records every call; a pull can be held
halfway (`hold_pull`) so a test sees the progress while it is under way."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ampflux_testing.threaded_server import ThreadedServer


@dataclass
class FakeModel:
    context_length: int = 8192
    tools: bool = True
    layers: tuple[int, ...] = (1000, 3000)  # bytes per layer, as Ollama reports them


@dataclass
class FakeOllama:
    # Models on the server's disk, and models the registry can pull.
    local: dict[str, FakeModel] = field(default_factory=dict)
    registry: dict[str, FakeModel] = field(default_factory=dict)
    loaded: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pull_steps: int = 4
    port: int = 0

    def __post_init__(self) -> None:
        # Set: pulls run through; cleared: a pull stops halfway until it is set again.
        self.pull_gate = threading.Event()
        self.pull_gate.set()
        self._server = ThreadedServer(self._build(), "fake Ollama")
        self.port = self._server.port
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeOllama:
        self._server.start()
        return self

    def stop(self) -> None:
        self.pull_gate.set()
        self._server.stop()

    def paths(self) -> list[str]:
        return [p for p, _ in self.calls]

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/tags")
        async def tags() -> dict[str, Any]:
            self.calls.append(("/api/tags", {}))
            return {"models": [{"name": n, "model": n, "size": sum(m.layers)} for n, m in self.local.items()]}

        @app.get("/api/ps")
        async def ps() -> dict[str, Any]:
            self.calls.append(("/api/ps", {}))
            return {"models": [{"name": n, "model": n, "expires_at": e} for n, e in self.loaded.items()]}

        @app.post("/api/show")
        async def show(request: Request):
            body = await request.json()
            self.calls.append(("/api/show", body))
            model = self.local.get(body.get("model"))
            if model is None:
                return JSONResponse({"error": f"model '{body.get('model')}' not found"}, status_code=404)
            return {
                "model_info": {"general.architecture": "llama", "llama.context_length": model.context_length},
                "capabilities": ["completion", *(["tools"] if model.tools else [])],
            }

        @app.post("/api/generate")
        async def generate(request: Request):
            body = await request.json()
            self.calls.append(("/api/generate", body))
            name = body.get("model")
            if name not in self.local:
                return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)
            if body.get("keep_alive") in (0, "0", "0s"):
                self.loaded.pop(name, None)
                return {"model": name, "done": True, "done_reason": "unload", "response": ""}
            self.loaded[name] = "2099-01-01T00:00:00Z"
            return {"model": name, "done": True, "done_reason": "load", "response": ""}

        @app.post("/api/pull")
        async def pull(request: Request):
            body = await request.json()
            self.calls.append(("/api/pull", body))
            name = body.get("model")
            return StreamingResponse(self._pull(name), media_type="application/x-ndjson")

        return app

    async def _pull(self, name: str):
        def line(event: dict[str, Any]) -> bytes:
            return (json.dumps(event) + "\n").encode()

        yield line({"status": "pulling manifest"})
        model = self.registry.get(name)
        if model is None:
            yield line({"error": "pull model manifest: file does not exist"})
            return
        step = 0
        for index, size in enumerate(model.layers):
            digest = f"sha256:{index:064d}"
            for k in range(1, self.pull_steps + 1):
                step += 1
                completed = size * k // self.pull_steps
                yield line({"status": "pulling", "digest": digest, "total": size, "completed": completed})
                if step == self.pull_steps + 1:  # the second layer has begun: its size is known
                    # A threading.Event: the test (another thread) sets it.
                    await asyncio.to_thread(self.pull_gate.wait)
        yield line({"status": "verifying sha256 digest"})
        yield line({"status": "success"})
        self.local[name] = model
