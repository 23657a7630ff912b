"""The in-process bus keeps the RabbitMQ contract: topic routing, retry, dead letters."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ampflux_shared.events import (
    BusUnavailableError,
    InProcessBroker,
    InProcessBus,
    PoisonEventError,
    get_in_process_bus,
)
from ampflux_shared.events.envelope import EventEnvelope


@pytest.fixture
async def bus():
    b = InProcessBus(InProcessBroker(), registry=CollectorRegistry(), retry_delay=0.001, max_deliveries=3)
    await b.start()
    yield b
    await b.stop()


def consumed(b: InProcessBus, event_type: str, outcome: str) -> float:
    return b.metrics.consumed.labels(event_type=event_type, outcome=outcome)._value.get()


async def test_each_queue_gets_the_events_its_patterns_match(bus, h):
    got: dict[str, list[str]] = {"users": [], "projects": [], "all": []}

    def collect(queue):
        async def handler(envelope: EventEnvelope) -> None:
            got[queue].append(envelope.type)

        return handler

    await bus.subscribe("users", ["auth.user.*"], collect("users"))
    await bus.subscribe("projects", ["project.#"], collect("projects"))
    await bus.subscribe("all", ["#"], collect("all"))

    event = h.project_created()
    assert await bus.publish(event) is True

    await h.eventually(lambda: len(got["projects"]) == 1 and len(got["all"]) == 1, timeout=2)
    assert got == {"users": [], "projects": ["project.project.created"], "all": ["project.project.created"]}


async def test_a_failing_handler_is_retried_until_it_succeeds(bus, h):
    attempts: list[EventEnvelope] = []

    async def flaky(envelope: EventEnvelope) -> None:
        attempts.append(envelope)
        if len(attempts) < 3:
            raise RuntimeError("database restarting")

    await bus.subscribe("flaky", ["project.project.created"], flaky)
    event = h.project_created()
    await bus.publish(event)

    await h.eventually(lambda: consumed(bus, event.type, "ok") == 1, timeout=2)
    assert [a.id for a in attempts] == [event.id] * 3
    assert consumed(bus, event.type, "retry") == 2
    assert bus.broker.dead_letters == []


async def test_a_handler_that_keeps_failing_ends_in_the_dead_letters(bus, h):
    calls = 0

    async def broken(envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("bug")

    await bus.subscribe("broken", ["project.project.created"], broken)
    event = h.project_created()
    await bus.publish(event)

    await h.eventually(lambda: bus.broker.dead_letters, timeout=2)
    assert calls == 3  # max_deliveries
    [dead] = bus.broker.dead_letters
    assert dead.queue == "broken" and EventEnvelope.from_json(dead.body).id == event.id


async def test_poison_and_unparseable_messages_are_dead_lettered_at_once(bus, h):
    calls = 0

    async def refuses(envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        raise PoisonEventError("payload does not parse")

    await bus.subscribe("strict", ["project.project.created"], refuses)
    await bus.publish(h.project_created())
    bus.broker.route("project.project.created", b"{not json")

    await h.eventually(lambda: len(bus.broker.dead_letters) == 2, timeout=2)
    assert calls == 1
    assert {d.reason for d in bus.broker.dead_letters} >= {"not an event envelope"}


async def test_publish_returns_false_when_no_queue_is_bound(bus, h):
    assert await bus.publish(h.project_created()) is False


async def test_a_stopped_bus_refuses_work(h):
    b = InProcessBus(InProcessBroker())
    with pytest.raises(BusUnavailableError):
        await b.publish(h.project_created())
    with pytest.raises(BusUnavailableError):
        await b.ping()


async def test_messages_wait_in_the_queue_while_its_consumer_is_stopped(h):
    broker = InProcessBroker()
    consumer, producer = InProcessBus(broker), InProcessBus(broker)
    await consumer.start()
    await producer.start()
    got: list[EventEnvelope] = []

    async def handler(envelope: EventEnvelope) -> None:
        got.append(envelope)

    await consumer.subscribe("svc", ["project.#"], handler)
    await consumer.stop()
    event = h.project_created()
    await producer.publish(event)

    restarted = InProcessBus(broker)
    await restarted.start()
    await restarted.subscribe("svc", ["project.#"], handler)
    await h.eventually(lambda: got, timeout=2)
    assert [e.id for e in got] == [event.id]
    await restarted.stop()
    await producer.stop()


def test_embedded_services_share_one_broker_with_their_own_metrics():
    a, b = CollectorRegistry(), CollectorRegistry()

    bus_a, bus_b = get_in_process_bus(registry=a), get_in_process_bus(registry=b)

    assert bus_a.broker is bus_b.broker
    assert bus_a.metrics is not bus_b.metrics
