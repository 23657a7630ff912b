"""Listening to the events exchange: a queue of the test's own, bound to some routing keys,
collecting every envelope that arrives, and a wait for the ones a test is after.

The broker is shared (other tests and other test workers' stacks publish to the same
exchange), so a test picks its own events out with a predicate (its company, project or
traveler id) rather than counting whatever arrives.

    async with listen_for_events(amqp_url, "project.#") as events:
        ...  # the change that publishes
        [deleted] = await events.wait_for(lambda e: e.type == "project.project.deleted")
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import aio_pika
import aio_pika.abc
from pydantic import ValidationError

from ampflux_shared.events import EventEnvelope
from ampflux_shared.events.rabbitmq import DEFAULT_EXCHANGE
from ampflux_testing.polling import eventually

Predicate = Callable[[EventEnvelope], bool]


class EventListener:
    """The envelopes a `listen_for_events` queue received so far, in arrival order."""

    def __init__(self) -> None:
        self.envelopes: list[EventEnvelope] = []
        # Bodies that are not envelopes: kept for the failure message, never matched.
        self.unreadable: list[bytes] = []
        self._routing_keys: dict[uuid.UUID, str] = {}

    def __iter__(self) -> Iterator[EventEnvelope]:
        # A copy: envelopes keep arriving while a test iterates.
        return iter(list(self.envelopes))

    def __len__(self) -> int:
        return len(self.envelopes)

    def routing_key(self, envelope: EventEnvelope) -> str:
        """The routing key the envelope arrived with."""
        return self._routing_keys[envelope.id]

    def matching(self, predicate: Predicate) -> list[EventEnvelope]:
        return [e for e in self if predicate(e)]

    async def wait_for(
        self, predicate: Predicate, *, count: int = 1, timeout: float = 15.0, what: str = ""
    ) -> list[EventEnvelope]:
        """Every envelope matching `predicate` (in arrival order), once at least `count` have arrived."""
        assert count >= 1, "waiting for no event always succeeds: assert on `matching` instead"

        def enough() -> list[EventEnvelope] | None:
            found = self.matching(predicate)
            return found if len(found) >= count else None

        try:
            result: list[EventEnvelope] = await eventually(
                enough, timeout=timeout, what=what or f"{count} matching event(s)"
            )
        except AssertionError as timed_out:
            arrived = dict(Counter(e.type for e in self))
            raise AssertionError(
                f"{timed_out}; {len(self.matching(predicate))} matched; arrived: {arrived or 'nothing'}"
                + (f", {len(self.unreadable)} unreadable" if self.unreadable else "")
            ) from None
        return result

    async def _receive(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            envelope = EventEnvelope.from_json(message.body)
        except ValidationError:
            self.unreadable.append(message.body)
            return
        self._routing_keys[envelope.id] = message.routing_key or ""
        self.envelopes.append(envelope)


@asynccontextmanager
async def listen_for_events(
    amqp_url: str, *routing_keys: str, exchange: str = DEFAULT_EXCHANGE
) -> AsyncIterator[EventListener]:
    """An exclusive queue bound to `routing_keys` on the (topic) events exchange, consumed into
    an `EventListener` until the block ends. Bound before the block's body runs, so nothing
    the body causes is missed."""
    assert routing_keys, "bind to at least one routing key, e.g. 'project.#'"
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        events_exchange = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        # Exclusive: the broker deletes the queue with this connection, even if the test dies.
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in routing_keys:
            await queue.bind(events_exchange, routing_key=key)
        listener = EventListener()
        await queue.consume(listener._receive, no_ack=True)
        yield listener
