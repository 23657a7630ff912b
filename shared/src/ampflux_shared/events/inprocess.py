"""The in-process bus of the embedded mode: the `EventBus` contract without a broker.

All services of the embedded platform run in one process and share one `InProcessBroker`
(`get_in_process_bus()` hands each service its own handle on it, so each counts into its
own metrics registry and stops only its own consumers). Messages are kept as JSON bytes, so
consumers see exactly what a RabbitMQ consumer would, and live in memory only: the
outbox, not this bus, is what makes events survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from ..backoff import Backoff
from .bus import EventBus, Handler, Outcome, count_consumed, parse_envelope, run_handler
from .envelope import EventEnvelope
from .errors import BusUnavailableError
from .metrics import event_metrics
from .topic import topic_matches

log = logging.getLogger("ampflux.events.inprocess")


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    body: bytes
    reason: str


@dataclass(eq=False)
class _Queue:
    name: str
    patterns: set[str] = field(default_factory=set)
    messages: deque[bytes] = field(default_factory=deque)
    _not_empty: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def put(self, body: bytes) -> None:
        self.messages.append(body)
        self._event().set()

    async def get(self) -> bytes:
        while not self.messages:
            ready = self._event()
            ready.clear()
            await ready.wait()
        return self.messages.popleft()

    def _event(self) -> asyncio.Event:
        # An asyncio.Event belongs to one loop; tests may run several loops in one process.
        loop = asyncio.get_running_loop()
        if self._not_empty is None or self._loop is not loop:
            self._not_empty, self._loop = asyncio.Event(), loop
        return self._not_empty


class InProcessBroker:
    """A topic exchange with durable-for-the-process queues and a dead-letter list."""

    def __init__(self) -> None:
        self.queues: dict[str, _Queue] = {}
        self.dead_letters: list[DeadLetter] = []

    def bind(self, queue: str, routing_keys: list[str]) -> _Queue:
        q = self.queues.setdefault(queue, _Queue(queue))
        q.patterns.update(routing_keys)
        return q

    def delete_queue(self, queue: str) -> None:
        """Drop a queue and its bindings (its consumers should be stopped first)."""
        self.queues.pop(queue, None)

    def route(self, routing_key: str, body: bytes) -> bool:
        targets = [q for q in self.queues.values() if any(topic_matches(p, routing_key) for p in q.patterns)]
        for q in targets:
            q.put(body)
        return bool(targets)

    def dead_letter(self, queue: str, body: bytes, reason: str) -> None:
        log.error("dead-lettered a message on %s: %s", queue, reason)
        self.dead_letters.append(DeadLetter(queue, body, reason))


@dataclass(eq=False)
class _Consumer:
    task: asyncio.Task[None] | None = None
    busy: bool = False


class InProcessBus(EventBus):
    def __init__(
        self,
        broker: InProcessBroker | None = None,
        *,
        registry: CollectorRegistry | None = None,
        max_deliveries: int = 5,
        retry_delay: float = 0.05,
        max_retry_delay: float = 2.0,
        stop_grace: float = 10.0,
    ) -> None:
        self.broker = broker if broker is not None else InProcessBroker()
        self.metrics = event_metrics(registry)
        self.max_deliveries = max_deliveries
        # The platform's one retry rule (exponential, capped, full jitter).
        self.backoff = Backoff(base_s=retry_delay, max_s=max_retry_delay)
        self.stop_grace = stop_grace
        self._consumers: list[_Consumer] = []
        self._started = False
        self._stopping = False

    async def start(self) -> None:
        self._started, self._stopping = True, False

    async def stop(self) -> None:
        self._stopping = True
        for c in self._consumers:
            if not c.busy and c.task:
                c.task.cancel()
        tasks = [c.task for c in self._consumers if c.task]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.stop_grace)
            for t in late:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._consumers.clear()
        self._started = False

    async def publish(self, envelope: EventEnvelope) -> bool:
        self._require_started()
        routed = self.broker.route(envelope.type, envelope.to_json())
        self.metrics.published.labels(event_type=envelope.type).inc()
        return routed

    async def subscribe(self, queue: str, routing_keys: list[str], handler: Handler) -> None:
        self._require_started()
        q = self.broker.bind(queue, routing_keys)
        consumer = _Consumer()
        consumer.task = asyncio.create_task(self._consume(q, handler, consumer), name=f"inprocess-consumer:{queue}")
        self._consumers.append(consumer)

    async def ping(self) -> None:
        self._require_started()

    def _require_started(self) -> None:
        if not self._started:
            raise BusUnavailableError("the in-process bus is not started")

    async def _consume(self, q: _Queue, handler: Handler, consumer: _Consumer) -> None:
        while not self._stopping:
            body = await q.get()
            consumer.busy = True
            try:
                await self._deliver(q, body, handler)
            except asyncio.CancelledError:
                # Stopped mid-delivery: the handler's transaction rolled back, keep the message.
                q.messages.appendleft(body)
                raise
            finally:
                consumer.busy = False

    async def _deliver(self, q: _Queue, body: bytes, handler: Handler) -> None:
        envelope = parse_envelope(body)
        if envelope is None:
            count_consumed(self.metrics, "unparseable", Outcome.DEAD_LETTER)
            self.broker.dead_letter(q.name, body, "not an event envelope")
            return
        for attempt in range(1, self.max_deliveries + 1):
            outcome = await run_handler(handler, envelope, q.name)
            if outcome is Outcome.OK:
                count_consumed(self.metrics, envelope.type, outcome)
                return
            if outcome is Outcome.DEAD_LETTER or attempt == self.max_deliveries:
                break
            count_consumed(self.metrics, envelope.type, Outcome.RETRY)
            await asyncio.sleep(self.backoff.delay(attempt))
        count_consumed(self.metrics, envelope.type, Outcome.DEAD_LETTER)
        self.broker.dead_letter(q.name, body, f"{envelope.type} {envelope.id} failed {attempt} time(s)")


_process_broker = InProcessBroker()


def get_in_process_bus(registry: CollectorRegistry | None = None) -> InProcessBus:
    """A handle on the one broker of this process; every embedded service shares it."""
    return InProcessBus(_process_broker, registry=registry)
