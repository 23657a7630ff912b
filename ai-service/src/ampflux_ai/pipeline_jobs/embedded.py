"""Embedded mode: without a broker, the API process is its own pipeline worker.

The outbox relay publishes each queued execution to the in-process bus, where
`pipeline_concurrency` consumers run them. The in-process bus keeps messages in memory only,
so at start-up every execution still queued or running (the process stopped under it) is
taken up again from its stored state, like a redelivery on RabbitMQ: the finished steps are
not redone.
"""

from __future__ import annotations

import asyncio
import logging

from ampflux_shared.events import EventBus, EventEnvelope

from ..events import PIPELINE_EXECUTION_QUEUED
from . import store
from .job import ExecutionJob, job_from_body
from .runner import ExecutionRunner

log = logging.getLogger("ampflux.ai.pipelines")


async def run_in_process(bus: EventBus, queue: str, runner: ExecutionRunner, *, consumers: int) -> asyncio.Task[None]:
    """Subscribe the consumers; returns the task that resumes the executions left open."""

    async def handle(envelope: EventEnvelope) -> None:
        job = job_from_body(envelope.to_json())
        if job is not None:
            await runner.handle(job)

    for _ in range(consumers):
        await bus.subscribe(queue, [PIPELINE_EXECUTION_QUEUED], handle)
    return asyncio.create_task(_resume_open(runner, consumers), name="ai-pipelines-resume")


async def _resume_open(runner: ExecutionRunner, consumers: int) -> None:
    try:
        open_ids = await store.open_executions(runner.env.database)
    except Exception:
        log.exception("could not list the pipeline executions left open")
        return
    if open_ids:
        log.info("taking up %d pipeline execution(s) left open by the last run", len(open_ids))
    slots = asyncio.Semaphore(consumers)

    async def one(job: ExecutionJob) -> None:
        async with slots:
            try:
                await runner.handle(job)
            except Exception:
                log.exception("resuming execution %s failed", job.execution_id)

    await asyncio.gather(*(one(ExecutionJob(execution_id, execution_id)) for execution_id in open_ids))
