"""The pipeline work queue on RabbitMQ, on the shared work queue
(`ampflux_shared.events.work_queue`, which says how jobs are declared, settled and
dead-lettered).

There is no separate enqueue: the work queue `<pipeline_queue>` is bound to the events
exchange with `ai.pipeline_execution.queued`, so the outbox row written with the execution
becomes the job once the relay publishes it. Its dead letters (`<pipeline_queue>.dlq`) are
consumed by the workers to fail the execution; one they cannot read goes to
`<pipeline_queue>.parking` for a person.

Acked only after the execution's state is stored. An execution runs in a task the queue owns,
so a broker blip does not stop a pipeline midway (it finishes and stores; the lost ack means a
redelivery, which finds the execution finished and does nothing). A worker runs at most
`AI_PIPELINE_CONCURRENCY` executions (the prefetch and the queue's semaphore).
"""

from __future__ import annotations

from ampflux_shared.events.work_queue import WorkQueue

from ..config import Settings
from ..events import PIPELINE_EXECUTION_QUEUED
from .job import ExecutionJob, job_from_body


class PipelineQueue(WorkQueue[ExecutionJob]):
    def __init__(self, url: str, *, queue: str, delivery_limit: int, concurrency: int = 1) -> None:
        super().__init__(
            url,
            queue=queue,
            routing_keys=[PIPELINE_EXECUTION_QUEUED],
            delivery_limit=delivery_limit,
            read_job=lambda message: job_from_body(message.body),
            describe=lambda job: f"execution {job.execution_id}",
            prefetch=concurrency,
            concurrency=concurrency,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineQueue:
        return cls(
            settings.amqp_url,
            queue=settings.pipeline_queue,
            delivery_limit=settings.pipeline_delivery_limit,
            concurrency=settings.pipeline_concurrency,
        )
