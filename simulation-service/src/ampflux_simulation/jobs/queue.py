"""The job queue: how a queued run reaches a worker, on the shared work queue
(`ampflux_shared.events.work_queue`, which says how jobs are declared, settled, retried and
dead-lettered).

The work queue `<jobs_queue>` (default `simulation.jobs`) is bound to the events exchange with
`simulation.run.queued`, so the outbox row written with the queued run becomes the job. A job
lands in `<jobs_queue>.dlq` after too many solver crashes (only a crash answers RETRY);
workers consume it to fail the run, and what they cannot read or record is parked in
`<jobs_queue>.parking` (`python -m ampflux_simulation.dlq list|replay --parking`).
"""

from __future__ import annotations

from ampflux_shared.events.rabbitmq import DEFAULT_EXCHANGE, delivery_count
from ampflux_shared.events.work_queue import WorkQueue

from ..config import Settings
from ..events import RUN_QUEUED
from .job import Job, job_from_body


class RabbitJobQueue(WorkQueue[Job]):
    def __init__(
        self,
        url: str,
        *,
        queue: str,
        delivery_limit: int,
        exchange: str = DEFAULT_EXCHANGE,
        prefetch: int = 1,
        concurrency: int = 1,
        retry_delay_s: float = 1.0,
    ) -> None:
        super().__init__(
            url,
            queue=queue,
            routing_keys=[RUN_QUEUED],
            delivery_limit=delivery_limit,
            read_job=lambda message: job_from_body(message.body, delivery_count(message)),
            describe=lambda job: f"run {job.run_id}",
            exchange=exchange,
            prefetch=prefetch,
            concurrency=concurrency,
            retry_delay_s=retry_delay_s,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, prefetch: int = 1) -> RabbitJobQueue:
        return cls(
            settings.amqp_url,
            queue=settings.jobs_queue,
            delivery_limit=settings.job_delivery_limit,
            prefetch=prefetch,
            retry_delay_s=settings.job_retry_delay_s,
        )
