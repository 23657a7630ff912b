"""The shape of a worker process (`python -m ampflux_<service>.<worker>`): what every job tier
needs around its queue, once.

- `worker_base`: the metrics endpoint (when a port is set), the service's migrations (when
  `migrate_on_start`, by the one convention of `ampflux_shared.migrate`), its database, and
  an outbox relay on the bus so the worker's events go out even when no API replica is up;
  all closed again in order.
- `broker_missing`: a worker needs a broker; without one the service's API process does the
  work itself, which is what the message says.
- `serve_until_signalled`: runs the worker until SIGTERM or SIGINT (Ctrl-C, systemd, a
  container stop) sets its stop event; the worker then stops taking jobs and drains.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import start_http_server

from .db import Database
from .events import OutboxRelay, create_bus
from .events.tables import EventTables
from .observability import ServiceMetrics
from .settings import ServiceSettings

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True)
class WorkerBase:
    metrics: ServiceMetrics
    database: Database
    relay: OutboxRelay


@asynccontextmanager
async def worker_base(
    settings: ServiceSettings, *, metrics_port: int, event_tables: EventTables
) -> AsyncIterator[WorkerBase]:
    metrics = ServiceMetrics()
    if metrics_port:
        start_http_server(metrics_port, addr=settings.host, registry=metrics.registry)
    if settings.migrate_on_start:
        # Imported here: Alembic (0.15-0.3 s of CPU) is for a worker that migrates, and the
        # deployments' workers do not (their deploy step does); a solver forkserver, which
        # imports the worker's main module, never does.
        from .migrate import migrate

        await asyncio.to_thread(migrate, settings.service_name, settings)  # synchronous: off the loop
    # the service's pool and ping-after-idle settings, as its API process has them
    database = Database.from_settings(settings)
    try:
        bus = create_bus(settings.amqp_url, registry=metrics.registry)
        await bus.start()
        try:
            relay = OutboxRelay(database, bus, event_tables, registry=metrics.registry)
            await relay.start()
            try:
                yield WorkerBase(metrics, database, relay)
            finally:
                await relay.stop()
        finally:
            await bus.stop()
    finally:
        await database.dispose()


def broker_missing(settings: ServiceSettings, command: str, without_it: str) -> bool:
    """True (and says so on stderr) when the settings name no broker."""
    if settings.amqp_url:
        return False
    variable = f"{settings.model_config.get('env_prefix', '')}AMQP_URL"
    print(f"{command} needs {variable}; without a broker {without_it}", file=sys.stderr)
    return True


def serve_until_signalled(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        await run(stop)

    asyncio.run(serve())
