"""The inbox: a redelivered event has no second effect."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from ampflux_shared.events import EventEnvelope, Inbox, InProcessBroker, InProcessBus, consume_once


async def test_first_time_is_true_once_per_event_and_consumer(database, schema):
    inbox = Inbox(schema.tables)
    event_id = uuid.uuid4()

    async with database.session() as session:
        assert await inbox.first_time(session, event_id, "project.users") is True
    async with database.session() as session:
        assert await inbox.first_time(session, event_id, "project.users") is False
        # Another handler of the same event has its own record.
        assert await inbox.first_time(session, event_id, "project.audit") is True


async def test_a_rolled_back_handler_leaves_no_inbox_record(database, schema):
    inbox = Inbox(schema.tables)
    event_id = uuid.uuid4()

    with pytest.raises(RuntimeError):
        async with database.session() as session:
            assert await inbox.first_time(session, event_id, "c") is True
            raise RuntimeError("handler failed")

    async with database.session() as session:
        assert await inbox.first_time(session, event_id, "c") is True


@pytest.mark.postgres
async def test_concurrent_duplicates_on_postgres_see_one_winner(pg_db, schema):
    inbox = Inbox(schema.tables)
    event_id = uuid.uuid4()
    first_inserted = asyncio.Event()
    results: dict[str, bool] = {}

    async def first() -> None:
        async with pg_db.session() as session:
            results["first"] = await inbox.first_time(session, event_id, "c")
            first_inserted.set()
            await asyncio.sleep(0.2)  # hold the uncommitted row while the duplicate arrives

    async def second() -> None:
        await first_inserted.wait()
        async with pg_db.session() as session:
            results["second"] = await inbox.first_time(session, event_id, "c")

    await asyncio.gather(first(), second())
    assert results == {"first": True, "second": False}


async def test_an_event_delivered_again_after_its_commit_is_handled_once_in_process(database, schema, h):
    """Same story as the RabbitMQ test, on the embedded stack: SQLite or PostgreSQL + in-process bus."""
    bus = InProcessBus(InProcessBroker(), retry_delay=0.001)
    await bus.start()
    settled = 0

    async def effect(session, envelope: EventEnvelope) -> None:
        await h.increment(session, schema.counters)

    once = consume_once(database, Inbox(schema.tables), "test.counter", effect)

    async def handler(envelope: EventEnvelope) -> None:
        nonlocal settled
        try:
            await once(envelope)
            if settled == 0:
                raise RuntimeError("ack lost after the commit")
        finally:
            settled += 1

    await bus.subscribe("counter", ["project.project.created"], handler)
    event = h.project_created()
    await bus.publish(event)
    await bus.publish(event)

    await h.eventually(lambda: settled == 3, timeout=5, what="three deliveries")
    assert await h.read_counter(database, schema.counters) == 1
    await bus.stop()


@pytest.mark.rabbitmq
@pytest.mark.postgres
async def test_a_redelivered_event_is_handled_once(pg_db, schema, rabbit, h):
    bus = await rabbit.bus()
    queue = rabbit.queue("once")
    deliveries: list[uuid.UUID] = []
    settled = 0

    async def effect(session, envelope: EventEnvelope) -> None:
        await h.increment(session, schema.counters)

    once = consume_once(pg_db, Inbox(schema.tables), "test.counter", effect)

    async def handler(envelope: EventEnvelope) -> None:
        nonlocal settled
        deliveries.append(envelope.id)
        try:
            await once(envelope)
            if len(deliveries) == 1:
                # Committed, then the ack is "lost": the bus nacks and the broker redelivers.
                raise RuntimeError("connection lost before the ack")
        finally:
            settled += 1

    await bus.subscribe(queue, ["project.project.created"], handler)
    event = h.project_created()
    await bus.publish(event)
    await h.eventually(lambda: settled >= 2, what="the forced redelivery")
    await bus.publish(event)  # and the producer's relay sends the same event twice

    await h.eventually(lambda: settled == 3, what="three deliveries")
    assert deliveries == [event.id] * 3
    assert await h.read_counter(pg_db, schema.counters) == 1
    async with pg_db.session() as session:
        inbox = schema.tables.inbox
        assert (await session.execute(select(func.count()).select_from(inbox))).scalar_one() == 1
