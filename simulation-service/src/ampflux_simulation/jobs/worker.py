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

from ampflux_shared.observability import configure_logging
from ampflux_shared.worker import STOP_SIGNALS, broker_missing, serve_until_signalled, worker_base

from ..config import Settings
from ..metrics import SimulationMetrics
from ..models import event_tables
from .queue import RabbitJobQueue
from .runner import JobRunner
from .solve_process import start_forkserver, stop_solvers

log = logging.getLogger("ampflux.simulation.worker")

# Beyond the job time limit: the finish step's commit and the ack.
DRAIN_MARGIN_S = 10.0


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Consume jobs until `stop` is set."""
    async with worker_base(settings, metrics_port=settings.worker_metrics_port, event_tables=event_tables) as base:
        queue = RabbitJobQueue.from_settings(settings, prefetch=1)
        try:
            # Ready to solve before taking the first job, so that job does not wait on imports
            # (already running when started from `main`, with the stop signals ignored).
            await asyncio.to_thread(start_forkserver)
            await queue.start()
            runner = JobRunner(base.database, base.relay.outbox, settings, SimulationMetrics.of(base.metrics))
            await queue.consume(runner.handle)
            await queue.consume_dead_letters(runner.dead_lettered)
            log.info("worker %s consuming %s", runner.worker_id, settings.jobs_queue)
            await stop.wait()
            log.info("worker %s stopping", runner.worker_id)
        finally:
            await queue.stop(grace_s=settings.job_time_limit_s + DRAIN_MARGIN_S)
            stop_solvers()


def main() -> int:
    settings = Settings()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    if broker_missing(settings, "ampflux_simulation.worker", "the API process solves its own jobs"):
        return 2

    # The forkserver (and every solving child it forks) inherits these dispositions across
    # its exec: a signal to the process group reaches them and is ignored there.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        start_forkserver()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    serve_until_signalled(lambda stop: run_worker(settings, stop))
    return 0
