"""Start the whole platform in one process on the embedded default.

Every service that exists in the repo runs on its own port (SQLite files under ./var,
the in-process event bus shared by all of them), and the gateway listens on :8000 in
front. Set DATABASE/AMQP URLs per service (see .env.example) to use PostgreSQL/RabbitMQ.

Adding a service: append it to SERVICES; the gateway's default route table already
points at its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Coroutine, Iterator
from typing import Any

import uvicorn

from ampflux_shared.observability.context import current_service

# (name, module with create_app(), port): the gateway starts last, in front of the others.
SERVICES = [
    ("auth", "ampflux_auth.main", 8001),
    ("project", "ampflux_project.main", 8002),
    ("simulation", "ampflux_simulation.main", 8003),
    ("traveler", "ampflux_traveler.main", 8004),
    ("ai", "ampflux_ai.main", 8005),
    ("gateway", "ampflux_gateway.main", 8000),
]

log = logging.getLogger("ampflux.launcher")


def _load(module: str):
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, "create_app", None)


class _Server(uvicorn.Server):
    # One process, one set of signal handlers (in main) for all servers: none of their own.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """How each server runs. `proxy_headers=False`: uvicorn would otherwise let any local
    client set its own address with X-Forwarded-For; only the gateway's configured trusted
    hops may (GATEWAY_TRUSTED_PROXIES), and the services behind it read the gateway's entry."""
    return uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on", proxy_headers=False)


def start_as(service: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run `coro` as a task whose context names `service`: its uvicorn, lifespan and
    background-task logs carry that name (one process and one log handler for all)."""
    context = contextvars.copy_context()
    context.run(current_service.set, service)
    return asyncio.create_task(coro, context=context)


def pipeline_workers(stop: asyncio.Event) -> list[asyncio.Task[Any]]:
    """With AI_AMQP_URL set the AI API only queues pipeline executions: run one pipeline worker
    here too (on the embedded default the AI API runs them itself, and none is needed)."""
    if not os.environ.get("AI_AMQP_URL"):
        return []
    try:
        from ampflux_ai.config import Settings
        from ampflux_ai.pipeline_worker import run_worker
    except ModuleNotFoundError:
        return []
    print("  ai pipeline worker (RabbitMQ)", file=sys.stderr)
    return [start_as("ai-pipeline-worker", run_worker(Settings(), stop))]


async def main() -> int:
    current_service.set("launcher")
    # Only the gateway listens on AMPFLUX_HOST; the services behind it stay on loopback,
    # so nobody else can reach them around the gateway.
    host = os.environ.get("AMPFLUX_HOST", "127.0.0.1")
    inner = "127.0.0.1"
    # The gateway appends the client's address to X-Forwarded-For: login throttling in the
    # auth service takes the address from there, but only from the gateway (a loopback
    # peer); anyone else's X-Forwarded-For is ignored.
    os.environ.setdefault("AUTH_TRUSTED_PROXY_COUNT", "1")
    os.environ.setdefault("AUTH_TRUSTED_PROXY_ADDRESSES", "127.0.0.1,::1")
    # Every process on this machine is a loopback peer: a secret only the gateway holds
    # (fresh each run) tells its requests from theirs.
    secret = os.environ.setdefault("GATEWAY_FORWARDED_SECRET", secrets.token_urlsafe(32))
    os.environ.setdefault("AUTH_TRUSTED_PROXY_SECRET", secret)
    servers: list[tuple[str, uvicorn.Server]] = []
    for name, module, port in SERVICES:
        factory = _load(module)
        if factory is None:
            continue
        bind = host if name == "gateway" else inner
        config = server_config(factory(), bind, port)
        servers.append((name, _Server(config)))
        print(f"  {name:<11} http://{bind}:{port}", file=sys.stderr)

    loop = asyncio.get_running_loop()
    workers_stop = asyncio.Event()

    def stop() -> None:
        for _, s in servers:
            s.should_exit = True
        workers_stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)

    tasks = []
    for name, server in servers:
        tasks.append(start_as(name, server.serve()))
        # Start in order so the gateway finds its upstreams (and the auth JWKS) up.
        while not server.started and not tasks[-1].done():  # noqa: ASYNC110  (uvicorn sets a flag, no event)
            await asyncio.sleep(0.05)
        if tasks[-1].done():
            stop()
            break
    tasks += pipeline_workers(workers_stop)
    print("AmpFlux is running: gateway on http://localhost:8000 (docs: /docs/auth ...). Ctrl-C stops.", file=sys.stderr)
    await asyncio.gather(*tasks, return_exceptions=True)
    return 0 if all(not t.exception() for t in tasks if not t.cancelled()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
