"""A work queue of jobs on RabbitMQ, on the bus's primitives: the one shape of every job tier
(the simulation solves, the AI pipeline executions).

There is no separate "enqueue": the work queue is bound to the events exchange with the
routing keys of the service's "queued" event, so the outbox row written in the same
transaction as the queued job becomes the job once the relay publishes it (a broker outage
only delays it, as for every other event).

Topology (declared idempotently by the API and by every worker with `declare_consumer_queue`,
so a job is routable even before the first worker starts):
- `<queue>`: durable quorum queue with `x-delivery-limit`, dead-lettering into
- `<queue>.dlq`: where a job lands after too many retries (or at once, when the message is
  not a job or the worker failed on it). Workers consume it to fail the job's record;
- `<queue>.parking`: dead letters the worker cannot read or record, kept with their headers
  for a person (each service's `python -m ampflux_<service>.dlq list|replay --parking`).

Every message is settled, whatever happens in the consumer: an exception there would
otherwise leave it unacked, and with a small prefetch the worker would take nothing else.

Workers consume with manual acks, acking only after the outcome is stored. `concurrency` is
the worker's own limit (a semaphore), not only the prefetch: RabbitMQ can hand out more than
the prefetch (credit leaked after dead-lettering, a redelivery after a reconnect). A job runs
in a task the queue owns, not in the consumer callback, because the client library cancels
callbacks when their channel closes: a broker blip must not stop a job midway. It finishes
and stores its outcome; the ack is lost with the channel, and the redelivery finds the job
done (the service's handler makes that a no-op).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from ..backoff import Backoff
from .dead_letters import copy_message, declare_parking_queue, park
from .envelope import EventEnvelope
from .rabbitmq import (
    DEFAULT_EXCHANGE,
    InflightTracker,
    declare_consumer_queue,
    delivery_count,
    open_robust_connection,
    settle,
)

log = logging.getLogger("ampflux.events.work_queue")

J = TypeVar("J")

MAX_RETRY_DELAY_S = 30.0


class JobOutcome(StrEnum):
    DONE = "done"  # ack: the job needs nothing more
    RETRY = "retry"  # job: nack with requeue (counts towards the delivery limit); dead letter: back to work


# A handler answering None means DONE.
JobHandler = Callable[[J], Awaitable[JobOutcome | None]]
# (job, why it died, whether the broker's delivery limit was reached) -> DONE: ack it;
# RETRY: send it back to the work queue afresh (its delivery count starts again).
DeadLetterHandler = Callable[[J, str, bool], Awaitable[JobOutcome | None]]


@dataclass(frozen=True)
class QueueStats:
    depth: int
    consumers: int
    dead_letters: int


class WorkQueue(Generic[J]):
    """`read_job` turns a message into the service's job (None: not a job, dead-lettered);
    `describe` names a job in logs and task names ("run <id>")."""

    def __init__(
        self,
        url: str,
        *,
        queue: str,
        routing_keys: Sequence[str],
        delivery_limit: int,
        read_job: Callable[[AbstractIncomingMessage], J | None],
        describe: Callable[[J], str] = str,
        exchange: str = DEFAULT_EXCHANGE,
        prefetch: int = 1,
        concurrency: int = 1,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.url = url
        self.queue_name = queue
        self.dead_letter_queue_name = f"{queue}.dlq"
        self.routing_keys = list(routing_keys)
        self.exchange_name = exchange
        self.delivery_limit = delivery_limit
        self.prefetch = prefetch
        self.retry_delay_s = retry_delay_s
        self._read_job = read_job
        self._describe = describe
        self._connection: AbstractRobustConnection | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._inflight = InflightTracker()
        self._slots = asyncio.Semaphore(concurrency)
        self._jobs: set[asyncio.Task[JobOutcome | None]] = set()
        self._publisher: AbstractChannel | None = None
        # A retried job holds its slot this long first: retry_delay_s doubling per delivery.
        self._retry_backoff = Backoff(base_s=retry_delay_s, max_s=MAX_RETRY_DELAY_S, jitter=False)
        self._dead_letter_backoff = Backoff(base_s=max(retry_delay_s, 0.05), max_s=MAX_RETRY_DELAY_S)

    async def start(self) -> None:
        self._connection = await open_robust_connection(self.url)
        channel = await self._connection.channel()
        await self._declare(channel)
        await channel.close()

    async def _declare(self, channel: AbstractChannel) -> tuple[AbstractQueue, AbstractQueue]:
        await declare_parking_queue(channel, self.queue_name)
        return await declare_consumer_queue(
            channel,
            self.queue_name,
            exchange=self.exchange_name,
            routing_keys=self.routing_keys,
            delivery_limit=self.delivery_limit,
        )

    async def consume(self, handler: JobHandler[J]) -> None:
        channel = await self._require().channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        work, _ = await self._declare(channel)
        tag = await work.consume(self._inflight.track(lambda m: self._on_job(m, handler)), no_ack=False)
        self._consumers.append((work, tag))

    async def consume_dead_letters(self, handler: DeadLetterHandler[J]) -> None:
        # Parking and requeueing must be confirmed before the dead letter is acked: a channel
        # with confirms.
        self._publisher = await self._require().channel(publisher_confirms=True)
        channel = await self._require().channel()
        await channel.set_qos(prefetch_count=10)
        _, dlq = await self._declare(channel)
        tag = await dlq.consume(self._inflight.track(lambda m: self._on_dead_letter(m, handler)), no_ack=False)
        self._consumers.append((dlq, tag))

    async def stats(self, timeout_s: float = 5.0) -> QueueStats:
        # A passive declare answers with the counts; a channel of its own, since a failed
        # passive declare closes the channel it ran on. Bounded: a broker that is
        # reconnecting must not stall the caller (a metrics refresher).
        async with asyncio.timeout(timeout_s):
            return await self._stats()

    async def _stats(self) -> QueueStats:
        channel = await self._require().channel()
        try:
            work = await channel.declare_queue(self.queue_name, passive=True)
            dlq = await channel.declare_queue(self.dead_letter_queue_name, passive=True)
            return QueueStats(
                depth=work.declaration_result.message_count or 0,
                consumers=work.declaration_result.consumer_count or 0,
                dead_letters=dlq.declaration_result.message_count or 0,
            )
        finally:
            if not channel.is_closed:
                await channel.close()

    async def stop(self, grace_s: float = 10.0) -> None:
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag)
            except Exception:
                log.debug("could not cancel consumer %s", tag, exc_info=True)
        self._consumers.clear()
        # Graceful drain: the jobs in progress finish unless they outlast the grace; then
        # they are cancelled, their messages stay unacked and the broker redelivers them.
        late: set[asyncio.Task[object]] = set()
        if self._jobs:
            _, pending = await asyncio.wait(set(self._jobs), timeout=grace_s)
            late.update(pending)
        late |= await self._inflight.drain(1.0 if late else max(grace_s, 1.0))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if self._connection is not None:
            try:
                # Bounded: closing a robust connection that is reconnecting can wait forever.
                async with asyncio.timeout(10):
                    await self._connection.close()
            except TimeoutError:
                log.warning("the %s queue connection did not close in time; leaving it", self.queue_name)
            self._connection = None

    def _require(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError(f"the {self.queue_name} queue is not started")
        return self._connection

    async def _on_job(self, message: AbstractIncomingMessage, handler: JobHandler[J]) -> None:
        try:
            await self._handle_job(message, handler)
        except Exception:
            log.exception("dead-lettering message %s: the worker failed on it", message.message_id)
            await settle(message.reject(requeue=False), message)

    async def _handle_job(self, message: AbstractIncomingMessage, handler: JobHandler[J]) -> None:
        job = self._read_job(message)
        if job is None:
            log.error("dead-lettering a message that is not a job of %s: %.200r", self.queue_name, message.body)
            await settle(message.reject(requeue=False), message)
            return
        task = asyncio.create_task(self._run(job, handler), name=f"job {self._describe(job)}")
        self._jobs.add(task)
        task.add_done_callback(self._job_done)
        try:
            outcome = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                log.warning("the channel of %s's job closed; the job goes on", self._describe(job))
            raise
        if outcome is not JobOutcome.RETRY:
            await settle(message.ack(), message)
            return
        # Hold the slot a moment, then requeue; each requeue counts towards x-delivery-limit,
        # after which the broker dead-letters the job.
        await asyncio.sleep(self._retry_backoff.delay(delivery_count(message) + 1))
        await settle(message.nack(requeue=True), message)

    async def _run(self, job: J, handler: JobHandler[J]) -> JobOutcome | None:
        async with self._slots:
            return await handler(job)

    def _job_done(self, task: asyncio.Task[JobOutcome | None]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Also seen by the consumer when its channel is alive; logged here for the job
            # whose consumer was cancelled with its channel.
            log.error("%s failed: %r", task.get_name(), task.exception())

    async def _on_dead_letter(self, message: AbstractIncomingMessage, handler: DeadLetterHandler[J]) -> None:
        try:
            job = self._read_job(message)
            if job is None:
                await self._park(message, "unreadable")
                return
            outcome = await handler(job, death_reason(message), delivery_limit_reached(message))
            if outcome is JobOutcome.RETRY:
                await self._requeue(message)
                return
        except asyncio.CancelledError:
            raise
        except Exception:
            # The handler waits out infrastructure errors itself: this is a bug or a message
            # it cannot record. Keep it for a person rather than loop on it or drop it.
            log.exception("could not record dead letter %s; parking it", message.message_id)
            try:
                await self._park(message, "unrecorded")
            except Exception:
                log.exception("could not park dead letter %s; it stays in the DLQ", message.message_id)
                await asyncio.sleep(self._dead_letter_backoff.delay(1))
                await settle(message.nack(requeue=True), message)
            return
        await settle(message.ack(), message)

    async def _requeue(self, message: AbstractIncomingMessage) -> None:
        """Back to the work queue without the broker's headers, confirmed before the ack: the
        job is in one of the two queues at every moment (same message id: an inbox still
        knows it)."""
        if self._publisher is None:
            raise RuntimeError("the dead-letter consumer is not started")
        await self._publisher.default_exchange.publish(
            copy_message(message, drop_broker_headers=True), routing_key=self.queue_name
        )
        await settle(message.ack(), message)

    async def _park(self, message: AbstractIncomingMessage, why: str) -> None:
        if self._publisher is None:
            raise RuntimeError("the dead-letter consumer is not started")
        await park(self._publisher, self.queue_name, message)
        log.error("parked %s dead letter %s: %.200r", why, message.message_id, message.body)
        await settle(message.ack(), message)


def queued_id(body: bytes, event_type: str, field: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(the id in the payload's `field`, the event's id) of a message that is an `event_type`
    event; None for anything else, read defensively (a job tier dead-letters it)."""
    try:
        envelope = EventEnvelope.from_json(body)
        if envelope.type != event_type:
            return None
        return uuid.UUID(str(envelope.payload[field])), envelope.id
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def first_death_reason(message: AbstractIncomingMessage) -> str | None:
    """The broker's reason in the first `x-death` entry (`rejected`, `delivery_limit`, ...)."""
    deaths = (message.headers or {}).get("x-death")
    first = deaths[0] if isinstance(deaths, list | tuple) and deaths else None
    if not isinstance(first, dict):
        return None
    reason = first.get("reason")
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def death_reason(message: AbstractIncomingMessage) -> str:
    reason = first_death_reason(message)
    if reason is not None:
        return f"broker reason {reason!r} (x-delivery-limit reached or rejected as poison)"
    return "rejected by the broker"


def delivery_limit_reached(message: AbstractIncomingMessage) -> bool:
    return first_death_reason(message) == "delivery_limit"
