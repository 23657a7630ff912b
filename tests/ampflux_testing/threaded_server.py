"""An ASGI app served by uvicorn in a daemon thread of the test process: the test upstreams
that stand in for a remote server (fake_provider, ai-service's fake_ollama)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from .processes import free_port


class ThreadedServer:
    def __init__(self, app: Any, name: str, port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)

    def stop(self, force: bool = False) -> None:
        """`force`: without waiting for responses still under way."""
        self.server.should_exit = True
        self.server.force_exit = force
        self._thread.join(timeout=10)
