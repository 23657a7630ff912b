"""`make run`: every service in one process, and each one's logs carry its own name."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import logging
from pathlib import Path

from ampflux_shared.observability.logging import JsonFormatter

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_platform.py"


def _launcher():
    spec = importlib.util.spec_from_file_location("run_platform", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_each_servers_logs_name_its_service():
    launcher = _launcher()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("auth"))  # the first service configures the one handler
    log = logging.getLogger("uvicorn.error.test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:

        async def server(name: str) -> None:
            log.info("serving %s", name)
            await asyncio.sleep(0)
            # Tasks a server starts (its lifespan, relays, consumers) inherit the name.
            await asyncio.create_task(asyncio.to_thread(lambda: None))
            log.info("stopped %s", name)

        await asyncio.gather(*(launcher.start_as(n, server(n)) for n in ("auth", "project", "simulation", "gateway")))
    finally:
        log.removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 8
    for record in records:
        assert record["message"].endswith(record["service"]), record


async def test_no_server_lets_a_client_choose_its_address_with_x_forwarded_for():
    launcher = _launcher()
    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(scope["client"][0])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = launcher.server_config(app, "127.0.0.1", 0)
    config.load()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"x-forwarded-for", b"198.51.100.66")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    await config.loaded_app(scope, receive, send)
    assert seen == ["127.0.0.1"]
