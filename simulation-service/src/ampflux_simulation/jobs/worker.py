"""`python -m ampflux_simulation.worker`: the solver tier, scaled independently of the API.

Each worker takes one job at a time from the RabbitMQ work queue (prefetch 1, manual
ack), solves it in a killable child process, commits the outcome with its event in the
outbox, and only then acks. It also consumes the dead-letter queue, failing the runs of
jobs the broker gave up on, and runs an outbox relay so completed/failed events go out
even when no API replica is up.

SIGTERM or SIGINT, to the worker or to its whole process group (Ctrl-C, systemd, a
container stop), stops taking jobs and lets the current one finish and commit: the solving
child and its forkserver ignore both signals (they are started with them ignored), so only
the worker decides when a solve ends. Past the grace (the job time limit, beyond which no
solve runs anyway) the job is cancelled and the broker redelivers it elsewhere.
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

# Beyond the job time limit: the finish step's commit and the ack.
DRAIN_MARGIN_S = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
        # Ready to solve before taking the first job, so that job does not wait on imports
        # (already running when started from `main`, with the stop signals ignored).
        await asyncio.to_thread(start_forkserver)
        await queue.start()
        runner = JobRunner(database, relay.outbox, settings, simulation_metrics)
        await queue.consume(runner.handle)
        await queue.consume_dead_letters(runner.dead_lettered)
        log.info("worker %s consuming %s", runner.worker_id, settings.jobs_queue)
        await stop.wait()
        log.info("worker %s stopping", runner.worker_id)
    finally:
        await queue.stop(grace_s=settings.job_time_limit_s + DRAIN_MARGIN_S)
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

    # The forkserver (and every solving child it forks) inherits these dispositions across
    # its exec: a signal to the process group reaches them and is ignored there.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        start_forkserver()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(serve())
    return 0
