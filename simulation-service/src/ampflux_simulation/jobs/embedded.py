"""Embedded mode: without a broker, the API process is its own worker on the in-process bus."""

from __future__ import annotations

from ampflux_shared.events import EventBus, EventEnvelope
from ampflux_shared.events.work_queue import JobOutcome

from ..events import RUN_QUEUED
from .job import job_from_body
from .runner import JobRunner


class RetryJob(Exception):
    """Raised to the in-process bus so that it redelivers the job."""


async def subscribe_in_process(
    bus: EventBus, queue: str, runner: JobRunner, *, consumers: int, max_attempts: int
) -> None:
    """Solving happens in a child process, so the event loop (and the API) stays responsive.

    The in-process bus has no delivery-limit header; the run's own attempt count stands in.
    """

    async def handle(envelope: EventEnvelope) -> None:
        job = job_from_body(envelope.to_json())
        if job is None:
            return
        outcome = await runner.handle(job)
        if outcome is JobOutcome.RETRY:
            if await runner.attempts(job.run_id) >= max_attempts:
                await runner.dead_lettered(job, f"gave up after {max_attempts} attempts in the embedded worker")
                return
            raise RetryJob(f"run {job.run_id} will be retried")

    for _ in range(consumers):
        await bus.subscribe(queue, [RUN_QUEUED], handle)
