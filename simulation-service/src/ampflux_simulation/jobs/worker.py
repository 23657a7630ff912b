"""`python -m ampflux_simulation.worker`: the solver tier, scaled independently of the API.

Each worker takes one job at a time from the RabbitMQ work queue (prefetch 1, manual
ack), solves it in a killable child process, commits the outcome with its event in the
outbox, and only then acks. It also consumes the dead-letter queue, failing the runs of
jobs the broker gave up on, and runs an outbox relay so completed/failed events go out
even when no API replica is up. SIGTERM stops taking jobs and lets the current one end
(or, past the grace period, kills it; the broker then redelivers it elsewhere).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from prometheus_client import start_http_server

from ampflux_shared.db import Database
from ampflux_shared.events import OutboxRelay, create_bus
from ampflux_shared.migrations import ensure_postgres_database, upgrade_to_head_async
from ampflux_shared.observability import ServiceMetrics, configure_logging

from ..config import Settings
from ..metrics import SimulationMetrics
from ..migrate import MIGRATIONS_DIR, VERSION_TABLE
from ..models import event_tables
from .queue import RabbitJobQueue
from .runner import JobRunner
from .solve_process import start_forkserver

log = logging.getLogger("ampflux.simulation.worker")


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Consume jobs until `stop` is set."""
    metrics = ServiceMetrics()
    simulation_metrics = SimulationMetrics.of(metrics)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.host, registry=metrics.registry)
    url = settings.resolved_database_url()
    if settings.migrate_on_start:
        ensure_postgres_database(url)
        await upgrade_to_head_async(MIGRATIONS_DIR, url, VERSION_TABLE)
    database = Database(url)
    bus = create_bus(settings.amqp_url, registry=metrics.registry)
    await bus.start()
    relay = OutboxRelay(database, bus, event_tables, registry=metrics.registry)
    await relay.start()
    queue = RabbitJobQueue.from_settings(settings, prefetch=1)
    try:
        # Ready to solve before taking the first job, so that job does not wait on imports.
        await asyncio.to_thread(start_forkserver)
        await queue.start()
        runner = JobRunner(database, relay.outbox, settings, simulation_metrics)
        await queue.consume(runner.handle)
        await queue.consume_dead_letters(runner.dead_lettered)
        log.info("worker %s consuming %s", runner.worker_id, settings.jobs_queue)
        await stop.wait()
        log.info("worker %s stopping", runner.worker_id)
    finally:
        await queue.stop(grace_s=min(settings.job_time_limit_s, 30.0))
        await relay.stop()
        await bus.stop()
        await database.dispose()


def main() -> int:
    settings = Settings()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    if not settings.amqp_url:
        print(
            "ampflux_simulation.worker needs SIMULATION_AMQP_URL; without a broker the API process solves its own jobs",
            file=sys.stderr,
        )
        return 2

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(serve())
    return 0
