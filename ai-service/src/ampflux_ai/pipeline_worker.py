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
import sys

from ampflux_shared.observability import configure_logging
from ampflux_shared.worker import broker_missing, serve_until_signalled, worker_base

from .config import Settings
from .domain.credentials import credential_keyring
from .domain.provider import Providers
from .metrics import AIMetrics
from .models import event_tables
from .pipeline_jobs import ExecutionRunner, PipelineQueue
from .pipeline_jobs.steps import StepEnvironment

log = logging.getLogger("ampflux.ai.pipeline_worker")

STOP_GRACE_S = 30.0


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Consume pipeline jobs until `stop` is set."""
    async with worker_base(settings, metrics_port=settings.worker_metrics_port, event_tables=event_tables) as base:
        providers = Providers(settings)
        queue = PipelineQueue.from_settings(settings)
        try:
            env = StepEnvironment(
                base.database, settings, providers, AIMetrics(base.metrics), credential_keyring(settings)
            )
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


def main() -> int:
    settings = Settings()
    configure_logging(f"{settings.service_name}-pipeline-worker", settings.log_level)
    if broker_missing(settings, "ampflux_ai.pipeline_worker", "the API process runs its own pipelines"):
        return 2
    serve_until_signalled(lambda stop: run_worker(settings, stop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
