"""The bus interface every service codes against, and the factory that picks one.

Delivery contract, the same for every implementation:
- `publish` returns once the event is safely with the broker (publisher confirm), else it
  raises `PublishError`. It reports whether any queue was bound to the routing key.
- A handler that returns acknowledges the message, so it must return only after its
  transaction committed. A handler that raises gets the message again later (transient
  error), up to a bounded number of deliveries after which it is dead-lettered.
- A message that cannot be parsed as an `EventEnvelope`, or whose handler raises
  `PoisonEventError`, is dead-lettered at once: no retry can help it.
- Delivery is at least once. Deduplicate with the inbox (by event id), never by a
  broker's "redelivered" flag.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from .envelope import EventEnvelope
from .errors import PoisonEventError
from .metrics import EventMetrics

Handler = Callable[[EventEnvelope], Awaitable[None]]
log = logging.getLogger("ampflux.events")


class EventBus(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and declare the exchange; call once at service start-up."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop consuming, let in-flight handlers finish, disconnect."""

    @abc.abstractmethod
    async def publish(self, envelope: EventEnvelope) -> bool:
        """Publish with a broker confirm; True if some queue was bound to the type."""

    @abc.abstractmethod
    async def subscribe(self, queue: str, routing_keys: list[str], handler: Handler) -> None:
        """Declare the durable `queue`, bind it to `routing_keys` (`*`/`#` wildcards) and consume."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise `BusUnavailableError` unless the broker is reachable (for `/ready`)."""


class Outcome(StrEnum):
    OK = "ok"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


def parse_envelope(body: bytes) -> EventEnvelope | None:
    try:
        return EventEnvelope.from_json(body)
    except (ValidationError, ValueError):
        log.error("dead-lettering a message that is not an event envelope: %.200r", body)
        return None


async def run_handler(handler: Handler, envelope: EventEnvelope, queue: str) -> Outcome:
    """Run one delivery and say what the bus should do with the message."""
    try:
        await handler(envelope)
    except PoisonEventError:
        log.exception("dead-lettering poison event %s %s on %s", envelope.type, envelope.id, queue)
        return Outcome.DEAD_LETTER
    except Exception:
        log.exception("handler failed for %s %s on %s; it will be redelivered", envelope.type, envelope.id, queue)
        return Outcome.RETRY
    return Outcome.OK


def count_consumed(metrics: EventMetrics, event_type: str, outcome: Outcome) -> None:
    metrics.consumed.labels(event_type=event_type, outcome=outcome.value).inc()


def create_bus(amqp_url: str, *, registry: CollectorRegistry | None = None, **options) -> EventBus:
    """RabbitMQ when `amqp_url` is set, else a handle on the process-wide in-process bus.

    `registry` is the service's Prometheus registry the bus counts into; `options` go to
    `RabbitMQBus` (exchange, prefetch, publish_timeout, delivery_limit...).
    """
    # Imported here so that importing the interface does not drag in either implementation.
    if amqp_url:
        from .rabbitmq import RabbitMQBus

        return RabbitMQBus(amqp_url, registry=registry, **options)
    from .inprocess import get_in_process_bus

    return get_in_process_bus(registry=registry)
