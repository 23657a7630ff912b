"""`python -m ampflux_ai.pipeline_worker`: the pipeline tier, scaled apart from the API.

Each worker takes up to `AI_PIPELINE_CONCURRENCY` executions from the RabbitMQ work queue
(manual acks), runs their steps in order storing each result before the next, and acks only
once the execution's final state is stored. It also consumes the dead-letter queue, failing
executions the broker gave up on, and runs an outbox relay for the service's events.

SIGTERM or SIGINT stops taking executions and gives those under way `STOP_GRACE_S` to finish;
past it they are cancelled and their unacked messages go to another worker, which resumes each
at the step it was on. A SIGKILL does the same without the grace.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from prometheus_client import start_http_server

from ampflux_shared.db import Database
from ampflux_shared.events import OutboxRelay, create_bus
from ampflux_shared.migrations import ensure_postgres_database, upgrade_to_head_async
from ampflux_shared.observability import ServiceMetrics, configure_logging

from .config import Settings
from .domain.credentials import credential_keyring
from .domain.provider import Providers
from .metrics import AIMetrics
from .models import event_tables
from .pipeline_jobs import ExecutionRunner, PipelineQueue
from .pipeline_jobs.steps import StepEnvironment

log = logging.getLogger("ampflux.ai.pipeline_worker")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
STOP_GRACE_S = 30.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Consume pipeline jobs until `stop` is set."""
    metrics = ServiceMetrics()
    ai_metrics = AIMetrics(metrics)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.host, registry=metrics.registry)
    url = settings.resolved_database_url()
    if settings.migrate_on_start:
        await asyncio.to_thread(ensure_postgres_database, url)
        await upgrade_to_head_async(MIGRATIONS_DIR, url, f"alembic_version_{settings.service_name}")
    database = Database(url)
    bus = create_bus(settings.amqp_url, registry=metrics.registry)
    await bus.start()
    relay = OutboxRelay(database, bus, event_tables, registry=metrics.registry)
    await relay.start()
    providers = Providers(settings)
    queue = PipelineQueue.from_settings(settings)
    try:
        env = StepEnvironment(database, settings, providers, ai_metrics, credential_keyring(settings))
        runner = ExecutionRunner(env)
        await queue.start()
        await queue.consume(runner.handle)
        await queue.consume_dead_letters(runner.dead_lettered)
        log.info("pipeline worker %s consuming %s", runner.worker_id, settings.pipeline_queue)
        await stop.wait()
        log.info("pipeline worker %s stopping", runner.worker_id)
    finally:
        await queue.stop(grace_s=STOP_GRACE_S)
        await providers.close()
        await relay.stop()
        await bus.stop()
        await database.dispose()


def main() -> int:
    settings = Settings()
    configure_logging(f"{settings.service_name}-pipeline-worker", settings.log_level)
    if not settings.amqp_url:
        print(
            "ampflux_ai.pipeline_worker needs AI_AMQP_URL; without a broker the API process runs its own pipelines",
            file=sys.stderr,
        )
        return 2

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
