"""The pipeline work queue on RabbitMQ, on the shared bus primitives (the simulation job
queue's shape).

There is no separate enqueue: the work queue `<pipeline_queue>` is bound to the events
exchange with `ai.pipeline_execution.queued`, so the outbox row written with the execution
becomes the job once the relay publishes it. It is a quorum queue with `x-delivery-limit`,
dead-lettering into `<pipeline_queue>.dlq`, which the workers consume to fail the execution;
a dead letter they cannot read goes to `<pipeline_queue>.parking` for a person.

Manual acks, and only after the execution's state is stored. Each execution runs in a task the
queue owns, not in the consumer callback: the client library cancels callbacks when their
channel closes, and a broker blip must not stop a pipeline midway (it finishes and stores; the
lost ack means a redelivery, which finds the execution finished and does nothing). A worker
runs at most `concurrency` executions (the prefetch and a semaphore).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from ampflux_shared.events.dead_letters import declare_parking_queue, park
from ampflux_shared.events.rabbitmq import DEFAULT_EXCHANGE, InflightTracker, declare_consumer_queue, settle

from ..config import Settings
from ..events import PIPELINE_EXECUTION_QUEUED
from .job import ExecutionJob, job_from_body

log = logging.getLogger("ampflux.ai.pipelines")

JobHandler = Callable[[ExecutionJob], Awaitable[None]]
DeadLetterHandler = Callable[[ExecutionJob, str], Awaitable[None]]


class PipelineQueue:
    def __init__(self, url: str, *, queue: str, delivery_limit: int, concurrency: int = 1) -> None:
        self.url = url
        self.queue_name = queue
        self.delivery_limit = delivery_limit
        self.concurrency = concurrency
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractChannel | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._inflight = InflightTracker()
        self._slots = asyncio.Semaphore(concurrency)
        self._jobs: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineQueue:
        return cls(
            settings.amqp_url,
            queue=settings.pipeline_queue,
            delivery_limit=settings.pipeline_delivery_limit,
            concurrency=settings.pipeline_concurrency,
        )

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.url)
        channel = await self._connection.channel()
        await self._declare(channel)
        await channel.close()

    async def _declare(self, channel: AbstractChannel) -> tuple[AbstractQueue, AbstractQueue]:
        await declare_parking_queue(channel, self.queue_name)
        return await declare_consumer_queue(
            channel,
            self.queue_name,
            exchange=DEFAULT_EXCHANGE,
            routing_keys=[PIPELINE_EXECUTION_QUEUED],
            delivery_limit=self.delivery_limit,
        )

    def _require(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("the pipeline queue is not started")
        return self._connection

    async def consume(self, handler: JobHandler) -> None:
        channel = await self._require().channel()
        await channel.set_qos(prefetch_count=self.concurrency)
        work, _ = await self._declare(channel)
        tag = await work.consume(self._inflight.track(lambda m: self._on_job(m, handler)), no_ack=False)
        self._consumers.append((work, tag))

    async def consume_dead_letters(self, handler: DeadLetterHandler) -> None:
        # Parking must be confirmed before the dead letter is acked: a channel with confirms.
        self._publisher = await self._require().channel(publisher_confirms=True)
        channel = await self._require().channel()
        await channel.set_qos(prefetch_count=10)
        _, dlq = await self._declare(channel)
        tag = await dlq.consume(self._inflight.track(lambda m: self._on_dead_letter(m, handler)), no_ack=False)
        self._consumers.append((dlq, tag))

    async def stop(self, grace_s: float = 10.0) -> None:
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag)
            except Exception:
                log.debug("could not cancel consumer %s", tag, exc_info=True)
        self._consumers.clear()
        # Executions under way get the grace to finish; past it they are cancelled, their
        # messages stay unacked and another worker resumes them at the step they were on.
        late: set[asyncio.Task[object]] = set()
        if self._jobs:
            _, pending = await asyncio.wait(set(self._jobs), timeout=grace_s)
            late.update(pending)
        late |= await self._inflight.drain(1.0)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if self._connection is not None:
            try:
                async with asyncio.timeout(10):
                    await self._connection.close()
            except TimeoutError:
                log.warning("the pipeline queue connection did not close in time; leaving it")
            self._connection = None

    async def _on_job(self, message: AbstractIncomingMessage, handler: JobHandler) -> None:
        job = job_from_body(message.body)
        if job is None:
            log.error("dead-lettering a message that is not a pipeline job: %.200r", message.body)
            await settle(message.reject(requeue=False), message)
            return
        task = asyncio.create_task(self._run(job, handler), name=f"pipeline-{job.execution_id}")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                log.warning("the channel of execution %s's job closed; the execution goes on", job.execution_id)
            raise
        except Exception:
            # Not a step's failure (those are stored): a bug or a message it cannot handle.
            log.exception("dead-lettering execution %s: the worker failed on it", job.execution_id)
            await settle(message.reject(requeue=False), message)
            return
        await settle(message.ack(), message)

    async def _run(self, job: ExecutionJob, handler: JobHandler) -> None:
        async with self._slots:
            await handler(job)

    async def _on_dead_letter(self, message: AbstractIncomingMessage, handler: DeadLetterHandler) -> None:
        try:
            job = job_from_body(message.body)
            if job is None:
                await self._park(message, "unreadable")
                return
            await handler(job, _death_reason(message))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not record dead letter %s; parking it", message.message_id)
            try:
                await self._park(message, "unrecorded")
            except Exception:
                log.exception("could not park dead letter %s; it stays in the DLQ", message.message_id)
                await asyncio.sleep(1.0)
                await settle(message.nack(requeue=True), message)
            return
        await settle(message.ack(), message)

    async def _park(self, message: AbstractIncomingMessage, why: str) -> None:
        if self._publisher is None:
            raise RuntimeError("the dead-letter consumer is not started")
        await park(self._publisher, self.queue_name, message)
        log.error("parked %s dead letter %s: %.200r", why, message.message_id, message.body)
        await settle(message.ack(), message)


def _death_reason(message: AbstractIncomingMessage) -> str:
    deaths = (message.headers or {}).get("x-death")
    first = deaths[0] if isinstance(deaths, list | tuple) and deaths else None
    if isinstance(first, dict):
        reason = first.get("reason")
        reason = reason.decode() if isinstance(reason, bytes) else reason
        return f"the broker dead-lettered its job ({reason}: the delivery limit was reached or a worker refused it)"
    return "the broker dead-lettered its job"
