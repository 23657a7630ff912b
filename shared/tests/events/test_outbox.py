"""The transactional outbox: events leave only with their commit, and none are lost."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select, update

from ampflux_shared.events import (
    EventEnvelope,
    EventPublisher,
    Inbox,
    InProcessBroker,
    InProcessBus,
    OutboxRelay,
    PublishError,
)
from ampflux_shared.events.bus import EventBus


class SwitchableBus(EventBus):
    """Wraps a bus; while `down`, publish fails the way an unreachable broker does."""

    def __init__(self, inner: EventBus) -> None:
        self.inner = inner
        self.down = False
        self.published: list[EventEnvelope] = []

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    async def publish(self, envelope: EventEnvelope) -> bool:
        if self.down:
            raise PublishError("broker unreachable (simulated)")
        self.published.append(envelope)
        return await self.inner.publish(envelope)

    async def subscribe(self, queue, routing_keys, handler) -> None:
        await self.inner.subscribe(queue, routing_keys, handler)

    async def ping(self) -> None:
        await self.inner.ping()


@pytest.fixture
async def bus():
    b = SwitchableBus(InProcessBus(InProcessBroker()))
    await b.start()
    yield b
    await b.stop()


@pytest.fixture
async def relay(database, bus, schema):
    r = OutboxRelay(database, bus, schema.tables, registry=CollectorRegistry(), poll_interval=0.05, max_backoff=0.1)
    yield r
    await r.stop()


async def outbox_row(database, schema, envelope):
    t = schema.tables.outbox
    async with database.session() as session:
        return (await session.execute(select(t).where(t.c.id == envelope.id))).one()


async def test_an_event_goes_out_only_if_its_transaction_commits(database, relay, bus, schema, h):
    kept, rolled_back = h.project_created("kept"), h.project_created("rolled back")
    async with database.session() as session:
        await relay.outbox.add(session, kept)
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            await relay.outbox.add(session, rolled_back)
            raise RuntimeError("the request failed after writing its event")

    assert await relay.pending() == 1
    assert await relay.relay_once() == 1
    assert [e.id for e in bus.published] == [kept.id]
    row = await outbox_row(database, schema, kept)
    assert row.published_at is not None and row.attempts == 1
    assert row.type == "project.project.created" and row.version == 1 and row.payload["name"] == "kept"
    assert await relay.pending() == 0


async def test_events_are_relayed_in_the_order_they_were_written(database, relay, bus, h):
    events = [h.project_created(f"p{i}") for i in range(5)]
    async with database.session() as session:
        for e in events:
            await relay.outbox.add(session, e)

    assert await relay.relay_once() == 5
    assert [e.id for e in bus.published] == [e.id for e in events]


async def test_the_relay_wakes_on_commit_without_waiting_for_its_poll(database, bus, schema, h):
    relay = OutboxRelay(database, bus, schema.tables, registry=CollectorRegistry(), poll_interval=30)
    await relay.start()
    try:
        await h.eventually(lambda: relay.passes >= 1, timeout=3)  # now in its 30 s wait
        event = h.project_created()
        async with database.session() as session:
            await relay.outbox.add(session, event)
        await h.eventually(lambda: bus.published, timeout=3, what="the kicked relay to publish")
        assert [e.id for e in bus.published] == [event.id]
    finally:
        await relay.stop()


async def test_an_idle_relay_counts_its_backlog_only_every_gauge_interval(database, bus, schema, h):
    relay = OutboxRelay(
        database, bus, schema.tables, registry=CollectorRegistry(), poll_interval=0.01, idle_gauge_interval=3600
    )
    counted = 0
    backlog = relay.backlog

    async def counting_backlog() -> tuple[int, float]:
        nonlocal counted
        counted += 1
        return await backlog()

    relay.backlog = counting_backlog  # type: ignore[method-assign]
    await relay.start()
    try:
        await h.eventually(lambda: relay.passes >= 10, timeout=5)
        assert counted == 1  # the first pass only: nothing published, nothing failed since
        event = h.project_created()
        async with database.session() as session:
            await relay.outbox.add(session, event)
        await h.eventually(lambda: bus.published, timeout=3, what="the relay to publish")
        await h.eventually(lambda: counted == 2, timeout=3, what="the count after a pass that published")
        assert relay.metrics.outbox_pending._value.get() == 0
    finally:
        await relay.stop()


async def test_any_unit_of_work_that_writes_events_wakes_the_relay(database, bus, schema, h):
    """A service's publisher has its own `Outbox` (no callback): the database's unit of work
    wakes the relay after the commit, in a consumer or worker just as in a request."""
    relay = OutboxRelay(database, bus, schema.tables, registry=CollectorRegistry(), poll_interval=30)
    publisher = EventPublisher("project", schema.tables)
    await relay.start()
    try:
        await h.eventually(lambda: relay.passes >= 1, timeout=3)  # now in its 30 s wait
        event = h.project_created()
        async with database.session() as session:
            await publisher.outbox.add(session, event)
        await h.eventually(lambda: bus.published, timeout=3, what="the woken relay to publish")
        assert [e.id for e in bus.published] == [event.id]
    finally:
        await relay.stop()


async def test_events_written_while_the_broker_is_down_go_out_once_it_is_back(database, relay, bus, schema, h):
    registry_gauge = relay.metrics.outbox_pending
    bus.down = True
    await relay.start()
    event = h.project_created()
    async with database.session() as session:
        await relay.outbox.add(session, event)

    async def tried_and_failed() -> bool:
        row = await outbox_row(database, schema, event)
        return row.attempts >= 2 and row.last_error is not None

    await h.eventually(tried_and_failed, timeout=5, what="failed publish attempts to be recorded")
    assert await relay.pending() == 1
    assert registry_gauge._value.get() == 1
    assert bus.published == []
    # The backlog's age, for the alert on events stuck in the outbox.
    count, age = await relay.backlog()
    assert count == 1 and 0 < age < 60
    await h.eventually(lambda: relay.metrics.outbox_oldest_age._value.get() > 0, timeout=5, what="the age gauge")

    bus.down = False
    await h.eventually(lambda: bus.published, timeout=5, what="the event to go out after recovery")
    await h.eventually(lambda: registry_gauge._value.get() == 0, timeout=5, what="the backlog gauge to drop")
    assert relay.metrics.outbox_oldest_age._value.get() == 0
    assert [e.id for e in bus.published] == [event.id]
    row = await outbox_row(database, schema, event)
    assert row.published_at is not None and "simulated" in row.last_error


async def test_a_row_left_unpublished_by_a_crash_is_sent_by_the_next_relay(database, bus, schema, h):
    event = h.project_created()
    async with database.session() as session:
        await OutboxRelay(database, bus, schema.tables).outbox.add(session, event)
    # The process died here: no relay ran. A new process starts its relay.
    fresh = OutboxRelay(database, bus, schema.tables, poll_interval=0.05)
    await fresh.start()
    try:
        await h.eventually(lambda: bus.published, timeout=5)
    finally:
        await fresh.stop()
    assert [e.id for e in bus.published] == [event.id]


async def test_purge_deletes_only_old_published_rows(database, relay, bus, h):
    sent, waiting = h.project_created("sent"), h.project_created("waiting")
    async with database.session() as session:
        await relay.outbox.add(session, sent)
    await relay.relay_once()
    bus.down = True
    async with database.session() as session:
        await relay.outbox.add(session, waiting)

    assert await relay.purge_published(timedelta(hours=1)) == 0  # too recent
    assert await relay.purge_published(timedelta(seconds=-1)) == 1
    assert await relay.pending() == 1  # the unsent row is never purged


async def test_the_relay_purges_old_published_rows_and_inbox_records_on_a_schedule(database, bus, schema, h):
    relay = OutboxRelay(
        database,
        bus,
        schema.tables,
        registry=CollectorRegistry(),
        poll_interval=30,
        retention=timedelta(days=1),
        purge_delay=0,
    )
    old_sent, new_sent, unsent = h.project_created("old"), h.project_created("new"), h.project_created("unsent")
    async with database.session() as session:
        await relay.outbox.add(session, old_sent)
        await relay.outbox.add(session, new_sent)
    assert await relay.relay_once() == 2
    bus.down = True
    async with database.session() as session:
        await relay.outbox.add(session, unsent)
    inbox = Inbox(schema.tables)
    old_event, new_event = uuid.uuid4(), uuid.uuid4()
    async with database.session() as session:
        assert await inbox.first_time(session, old_event, "c")
        assert await inbox.first_time(session, new_event, "c")
    long_ago = datetime.now(UTC) - timedelta(days=2)
    out, inb = schema.tables.outbox, schema.tables.inbox
    async with database.session() as session:
        await session.execute(update(out).where(out.c.id.in_([old_sent.id, unsent.id])).values(created_at=long_ago))
        await session.execute(update(out).where(out.c.id == old_sent.id).values(published_at=long_ago))
        await session.execute(update(inb).where(inb.c.event_id == old_event).values(handled_at=long_ago))

    await relay.start()  # the first purge runs purge_delay after start, then every purge_interval
    try:
        await h.eventually(lambda: relay.purges >= 1, timeout=5, what="the scheduled purge")
    finally:
        await relay.stop()
    async with database.session() as session:
        outbox_ids = set((await session.execute(select(out.c.id))).scalars())
        inbox_ids = set((await session.execute(select(inb.c.event_id))).scalars())
    # Old and published: gone. Recent, or never published however old: kept.
    assert outbox_ids == {new_sent.id, unsent.id}
    assert inbox_ids == {new_event}


@pytest.mark.postgres
async def test_two_relays_on_postgres_share_the_backlog_without_doubles(pg_db, schema, h):
    broker = InProcessBroker()
    first, second = SwitchableBus(InProcessBus(broker)), SwitchableBus(InProcessBus(broker))
    await first.start()
    await second.start()
    events = [h.project_created(f"p{i}") for i in range(60)]
    async with pg_db.session() as session:
        relay = OutboxRelay(pg_db, first, schema.tables)
        for e in events:
            await relay.outbox.add(session, e)

    relays = [OutboxRelay(pg_db, b, schema.tables, batch_size=5) for b in (first, second)]

    async def drain(r: OutboxRelay) -> None:
        while await r.relay_once():
            pass

    await asyncio.gather(*(drain(r) for r in relays))

    published = [e.id for e in first.published + second.published]
    assert sorted(published) == sorted(e.id for e in events)
    assert len(published) == len(set(published))
    assert await relays[0].pending() == 0
    await first.stop()
    await second.stop()


@pytest.mark.rabbitmq
@pytest.mark.postgres
async def test_the_outbox_survives_a_broker_outage(pg_db, schema, rabbit, tcp_proxy, h):
    """An event committed while RabbitMQ is unreachable goes out, once, when it is back."""
    subscriber = await rabbit.bus()
    queue = rabbit.queue("outage")
    received: list[EventEnvelope] = []

    async def record(envelope: EventEnvelope) -> None:
        received.append(envelope)

    await subscriber.subscribe(queue, ["project.#"], record)
    # The producer reaches the broker only through the proxy the test can cut.
    producer_bus = await rabbit.bus(url=tcp_proxy.url, publish_timeout=0.5)
    relay = OutboxRelay(pg_db, producer_bus, schema.tables, poll_interval=0.05, max_backoff=0.2)
    await relay.start()
    try:
        await tcp_proxy.close()
        event = h.project_created("during the outage")
        async with pg_db.session() as session:
            await relay.outbox.add(session, event)

        outbox = schema.tables.outbox

        async def failed_twice() -> bool:
            async with pg_db.session() as session:
                row = (await session.execute(select(outbox).where(outbox.c.id == event.id))).one()
            return row.attempts >= 2 and row.last_error is not None and row.published_at is None

        await h.eventually(failed_twice, what="the relay to fail against the unreachable broker")
        assert await relay.pending() == 1
        assert received == []

        await tcp_proxy.open()
        await h.eventually(lambda: received, timeout=20, what="delivery after the broker came back")

        async def drained() -> bool:
            return await relay.pending() == 0

        await h.eventually(drained, what="the outbox to drain")

        # A later event is relayed after the first; once it has arrived, any duplicate of the
        # first would have too. Exactly one copy of the first event was delivered.
        marker = h.project_created("after the outage")
        async with pg_db.session() as session:
            await relay.outbox.add(session, marker)
        await h.eventually(lambda: any(e.id == marker.id for e in received), what="the marker event")
        assert [e.id for e in received] == [event.id, marker.id]
    finally:
        await relay.stop()
