"""`EventBus` on RabbitMQ through aio-pika.

Topology (declared idempotently by every service at start-up):
- one durable topic exchange (`ampflux.events`), routing key = event type;
- per consuming service a durable queue bound to the event types it needs, dead-lettering
  through the direct exchange `<exchange>.dlx` into `<queue>.dlq`.

Consuming queues are *quorum* queues: on RabbitMQ 3.10 only quorum queues honour
`x-delivery-limit` (classic queues ignore it and would redeliver a failing message forever),
and they are replicated in a cluster. 3.10 has no default limit, so we always set one.
A queue that already exists with other arguments makes the declare fail
(PRECONDITION_FAILED): change topology with a new queue name, not by editing arguments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.connection import make_url
from aiormq.abc import DeliveredMessage
from prometheus_client import CollectorRegistry

from ..backoff import Backoff
from ..tasks import cancel_and_wait
from .bus import EventBus, Handler, Outcome, count_consumed, parse_envelope, run_handler
from .envelope import EventEnvelope
from .errors import BusUnavailableError, PublishError
from .metrics import event_metrics

log = logging.getLogger("ampflux.events.rabbitmq")

DEFAULT_EXCHANGE = "ampflux.events"
REQUEST_ID_HEADER = "x-request-id"


class RabbitMQBus(EventBus):
    def __init__(
        self,
        url: str,
        *,
        registry: CollectorRegistry | None = None,
        exchange: str = DEFAULT_EXCHANGE,
        prefetch: int = 10,
        publish_timeout: float = 5.0,
        delivery_limit: int = 20,
        retry_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        reconnect_interval: float = 2.0,
        startup_timeout: float = 30.0,
        stop_grace: float = 10.0,
        dead_letter_refresh_s: float = 15.0,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self.dead_letter_exchange_name = f"{exchange}.dlx"
        self.metrics = event_metrics(registry)
        self.prefetch = prefetch
        self.publish_timeout = publish_timeout
        self.delivery_limit = delivery_limit
        # A message to retry holds its prefetch slot this long first: retry_delay doubling per
        # delivery (as the job queue's), so a restarting database is not hammered.
        self._retry_backoff = Backoff(base_s=retry_delay, max_s=max_retry_delay, jitter=False)
        self.reconnect_interval = reconnect_interval
        # Waiting for the broker at start: jittered, so services started together spread out.
        self._startup_backoff = Backoff(base_s=reconnect_interval / 4, max_s=reconnect_interval)
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._consumers: list[tuple[AbstractChannel, AbstractQueue, str]] = []
        self._inflight = InflightTracker()
        # `ampflux_events_dead_letter_depth{queue}` for each queue this bus consumes, counted
        # this often (a passive declare each): a dead letter waits for a person, so it alerts.
        self.dead_letter_refresh_s = dead_letter_refresh_s
        self._dead_letter_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect (retrying up to `startup_timeout`) and declare the exchange.

        After this, connection loss is repaired in the background by aio-pika's robust
        connection, which also re-declares queues, bindings and consumers.
        """
        if self._connection is not None:
            return
        connection = await self._connect_with_retries()
        try:
            # A channel of its own for publishing, so consumer channel errors never block confirms.
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._exchange = connection, exchange

    async def _connect_with_retries(self) -> AbstractRobustConnection:
        # Services and broker start together (compose, a node reboot): wait a while for it
        # rather than crash-looping, then fail so the orchestrator sees the problem.
        deadline = asyncio.get_running_loop().time() + self.startup_timeout
        attempt = 0
        while True:
            try:
                return await open_robust_connection(self.url, reconnect_interval=self.reconnect_interval)
            except (OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
                attempt += 1
                delay = self._startup_backoff.delay(attempt)
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise BusUnavailableError(f"RabbitMQ unreachable for {self.startup_timeout}s: {exc!r}") from exc
                log.warning("RabbitMQ not reachable yet (%r); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        if self._dead_letter_task is not None:
            # It opens a channel each pass, where aio-pika can lose a cancellation: cancelled until it ends.
            await cancel_and_wait(self._dead_letter_task)
            self._dead_letter_task = None
        for _channel, queue, tag in self._consumers:
            try:
                # Bounded: a robust channel that is reconnecting would otherwise wait for it.
                async with asyncio.timeout(self.publish_timeout):
                    await queue.cancel(tag)
            except Exception:  # the connection may be gone already; closing below is enough
                log.debug("could not cancel consumer %s on %s", tag, queue.name, exc_info=True)
        await self._inflight.drain(self.stop_grace)
        self._consumers.clear()
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._exchange = None

    async def publish(self, envelope: EventEnvelope) -> bool:
        exchange = self._exchange
        if exchange is None:
            raise PublishError("the RabbitMQ bus is not started")
        message = aio_pika.Message(
            envelope.to_json(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(envelope.id),
            type=envelope.type,
            timestamp=envelope.time,
            app_id=envelope.producer,
            correlation_id=envelope.request_id,
            headers={"x-event-version": envelope.version}
            | ({REQUEST_ID_HEADER: envelope.request_id} if envelope.request_id else {}),
        )
        try:
            # The outer timeout also bounds the wait for a robust channel that is reconnecting.
            async with asyncio.timeout(self.publish_timeout):
                result = await exchange.publish(message, routing_key=envelope.type, mandatory=True)
        except Exception as exc:
            raise PublishError(f"{envelope.type} {envelope.id} not confirmed: {exc!r}") from exc
        self.metrics.published.labels(event_type=envelope.type).inc()
        # With mandatory=True an unroutable message comes back instead of an Ack. It is
        # still confirmed (retrying cannot route it); the caller decides what that means.
        routed = not isinstance(result, DeliveredMessage)
        if not routed:
            log.warning("no queue is bound to %s; event %s was not delivered anywhere", envelope.type, envelope.id)
        return routed

    async def subscribe(self, queue: str, routing_keys: list[str], handler: Handler) -> None:
        if self._connection is None:
            raise BusUnavailableError("the RabbitMQ bus is not started")
        channel = await self._connection.channel()
        # Bounded prefetch: at most this many unacked messages (and handler tasks) at once.
        await channel.set_qos(prefetch_count=self.prefetch)
        q, _dlq = await declare_consumer_queue(
            channel,
            queue,
            exchange=self.exchange_name,
            routing_keys=routing_keys,
            delivery_limit=self.delivery_limit,
        )
        tag = await q.consume(self._inflight.track(lambda m: self._handle(queue, handler, m)), no_ack=False)
        self._consumers.append((channel, q, tag))
        if self._dead_letter_task is None and self.dead_letter_refresh_s > 0:
            self._dead_letter_task = asyncio.create_task(self._count_dead_letters(), name="dead-letter-depth")

    async def dead_letter_depths(self) -> dict[str, int]:
        """Messages waiting in the DLQ of each queue this bus consumes."""
        if self._connection is None:
            raise BusUnavailableError("the RabbitMQ bus is not started")
        depths: dict[str, int] = {}
        async with self._connection.channel() as channel:
            for _channel, queue, _tag in self._consumers:
                dlq = await channel.declare_queue(f"{queue.name}.dlq", passive=True)
                depths[queue.name] = dlq.declaration_result.message_count or 0
        return depths

    async def _count_dead_letters(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.publish_timeout):
                    depths = await self.dead_letter_depths()
                for queue, depth in depths.items():
                    self.metrics.dead_letters.labels(queue=queue).set(depth)
            except Exception:  # broker away: keep the last figures; the broker alerts say why
                log.debug("could not count the dead letters", exc_info=True)
            await asyncio.sleep(self.dead_letter_refresh_s)

    async def ping(self) -> None:
        conn = self._connection
        # `connected` is cleared by a callback a moment after the socket died; the transport
        # knows first, so ask both.
        transport = conn.transport if conn is not None else None
        if conn is None or not conn.connected.is_set() or transport is None or transport.connection.is_closed:
            raise BusUnavailableError("RabbitMQ is not connected")

    async def _handle(self, queue: str, handler: Handler, message: AbstractIncomingMessage) -> None:
        envelope = parse_envelope(message.body)
        if envelope is None:
            count_consumed(self.metrics, "unparseable", Outcome.DEAD_LETTER)
            await settle(message.reject(requeue=False), message)
            return
        outcome = await run_handler(handler, envelope, queue)
        count_consumed(self.metrics, envelope.type, outcome)
        if outcome is Outcome.OK:
            await settle(message.ack(), message)
        elif outcome is Outcome.DEAD_LETTER:
            await settle(message.reject(requeue=False), message)
        else:
            # Hold the prefetch slot a little before requeueing so a transient fault (database
            # restarting) is not hammered; the quorum queue's delivery limit bounds the retries.
            await asyncio.sleep(self._retry_backoff.delay(delivery_count(message) + 1))
            await settle(message.nack(requeue=True), message)


# --- primitives every consumer on this broker shares (the bus, the simulation job queue) ---


async def open_robust_connection(url: str, **options: Any) -> AbstractRobustConnection:
    """`aio_pika.connect_robust`, closing what a failed first connect leaves behind.

    connect_robust drops the connection object when its first connect fails, unclosed; it is
    closed later from its `__del__`, which cannot await outside a running loop (a "never
    awaited" warning), and each attempt of a wait for the broker left one more."""
    connection = aio_pika.RobustConnection(make_url(url, **options))
    try:
        await connection.connect()
    except BaseException:
        await connection.close()
        raise
    return connection


def dead_letter_exchange_name(exchange: str = DEFAULT_EXCHANGE) -> str:
    return f"{exchange}.dlx"


async def declare_consumer_queue(
    channel: AbstractChannel,
    queue: str,
    *,
    exchange: str = DEFAULT_EXCHANGE,
    routing_keys: Iterable[str],
    delivery_limit: int,
) -> tuple[AbstractQueue, AbstractQueue]:
    """Declare (idempotently) a consuming queue, its `<queue>.dlq` and their bindings.

    Both are quorum queues (see the module docstring); the work queue dead-letters through
    the direct exchange `<exchange>.dlx` with its own name as routing key. Returns
    (queue, dead-letter queue).
    """
    await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx_name = dead_letter_exchange_name(exchange)
    dlx = await channel.declare_exchange(dlx_name, aio_pika.ExchangeType.DIRECT, durable=True)
    dlq = await channel.declare_queue(f"{queue}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
    await dlq.bind(dlx, routing_key=queue)
    work = await channel.declare_queue(
        queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": dlx_name,
            "x-dead-letter-routing-key": queue,
            "x-delivery-limit": delivery_limit,
        },
    )
    for key in routing_keys:
        await work.bind(exchange, routing_key=key)
    return work, dlq


def delivery_count(message: AbstractIncomingMessage) -> int:
    """How often the broker delivered this message before (0 on the first delivery).

    Quorum queues count in `x-delivery-count`; anything else in that header (a string, a
    negative number, garbage from a foreign publisher) reads as 0 instead of raising in
    the consumer, where an exception would leave the message unsettled.
    """
    header = (message.headers or {}).get("x-delivery-count")
    if isinstance(header, bool) or not isinstance(header, int) or header < 0:
        return 0
    return header


class InflightTracker:
    """The consumer callbacks still running, so that stopping can wait for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def track(
        self, callback: Callable[[AbstractIncomingMessage], Awaitable[None]]
    ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                await callback(message)
            finally:
                if task is not None:
                    self._tasks.discard(task)

        return on_message

    async def drain(self, grace_s: float) -> set[asyncio.Task[object]]:
        """Wait up to `grace_s` for the running callbacks; returns those still running."""
        if not self._tasks:
            return set()
        _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
        return set(late)


async def settle(action: Awaitable[object], message: AbstractIncomingMessage) -> bool:
    """Ack, nack or reject; False when the channel is gone (the broker then redelivers)."""
    try:
        await action
    except Exception:
        # The channel died under us: the broker requeues the unacked message by itself, and the
        # inbox makes the redelivery of an already-committed event a no-op.
        log.warning("could not settle message %s; the broker will redeliver it", message.message_id, exc_info=True)
        return False
    return True
