"""RabbitMQBus against the real broker: confirms, acks after the handler, requeue, dead letters."""

from __future__ import annotations

import asyncio
import gc
import uuid

import aio_pika
import pytest

from ampflux_shared.events import BusUnavailableError, EventEnvelope, PublishError

pytestmark = pytest.mark.rabbitmq


async def get_one(url: str, queue: str) -> aio_pika.abc.AbstractIncomingMessage | None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=False)
        return await q.get(no_ack=True, fail=False)


async def test_a_published_event_reaches_the_subscriber_and_is_acked(rabbit, h):
    bus = await rabbit.bus()
    queue = rabbit.queue("props")
    got: list[EventEnvelope] = []

    async def handler(envelope: EventEnvelope) -> None:
        got.append(envelope)

    await bus.subscribe(queue, ["project.#"], handler)
    await bus.ping()
    event = h.project_created()

    assert await bus.publish(event) is True
    await h.eventually(lambda: got, what="delivery")
    assert got == [event]
    assert bus.metrics.published.labels(event_type=event.type)._value.get() >= 1
    await h.eventually(
        lambda: bus.metrics.consumed.labels(event_type=event.type, outcome="ok")._value.get() >= 1, what="the ok count"
    )
    await bus.stop()  # had the message not been acked, stopping would put it back in the queue
    assert await get_one(rabbit.url, queue) is None


async def test_the_message_carries_the_envelope_in_amqp_properties(rabbit, h):
    """What any AMQP client (or a shovel, or the management UI) sees of an event."""
    bus = await rabbit.bus()
    probe = rabbit.queue("probe")
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        q = await channel.declare_queue(probe, durable=True)
        await q.bind(rabbit.exchange, routing_key="project.project.created")
        event = h.project_created()
        assert await bus.publish(event) is True
        found: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def arrived() -> bool:
            message = await q.get(no_ack=True, fail=False)
            if message:
                found.append(message)
            return bool(found)

        await h.eventually(arrived, what="the probe message")
    message = found[0]
    assert message.message_id == str(event.id)
    assert message.type == event.type
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.headers["x-request-id"] == event.request_id
    assert message.app_id == "project"
    assert EventEnvelope.from_json(message.body) == event


async def test_the_message_is_acked_only_after_the_handler_returned(rabbit, tcp_proxy, h):
    queue = rabbit.queue("ack")
    first = await rabbit.bus(url=tcp_proxy.url, prefetch=1, publish_timeout=0.5)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(envelope: EventEnvelope) -> None:
        started.set()
        await release.wait()

    await first.subscribe(queue, ["project.project.created"], slow)
    publisher = await rabbit.bus()
    event = h.project_created()
    await publisher.publish(event)
    await asyncio.wait_for(started.wait(), 10)

    # The consumer dies mid-handler: since nothing was acked, the broker hands the event on.
    await tcp_proxy.close()
    second_got: list[EventEnvelope] = []

    async def take(envelope: EventEnvelope) -> None:
        second_got.append(envelope)

    await publisher.subscribe(queue, ["project.project.created"], take)
    await h.eventually(lambda: second_got, what="redelivery to the second consumer")
    assert [e.id for e in second_got] == [event.id]
    release.set()


async def test_a_failing_handler_gets_the_event_again_then_succeeds(rabbit, h):
    bus = await rabbit.bus()
    queue = rabbit.queue("retry")
    attempts: list[uuid.UUID] = []
    done = asyncio.Event()

    async def flaky(envelope: EventEnvelope) -> None:
        attempts.append(envelope.id)
        if len(attempts) < 3:
            raise RuntimeError("database restarting")
        done.set()

    await bus.subscribe(queue, ["project.project.created"], flaky)
    event = h.project_created()
    await bus.publish(event)

    await asyncio.wait_for(done.wait(), 10)
    assert attempts == [event.id] * 3
    assert bus.metrics.consumed.labels(event_type=event.type, outcome="retry")._value.get() >= 2
    # Acked after the success: nothing is left ready or dead.
    assert await get_one(rabbit.url, queue) is None
    assert await get_one(rabbit.url, f"{queue}.dlq") is None


async def test_an_event_failing_past_the_delivery_limit_is_dead_lettered(rabbit, h):
    bus = await rabbit.bus(delivery_limit=2)
    queue = rabbit.queue("limit")
    calls = 0

    async def broken(envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("bug")

    await bus.subscribe(queue, ["project.project.created"], broken)
    event = h.project_created()
    await bus.publish(event)

    dead: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def dead_lettered() -> bool:
        message = await get_one(rabbit.url, f"{queue}.dlq")
        if message:
            dead.append(message)
        return bool(dead)

    await h.eventually(dead_lettered, what="the event in the dead-letter queue")
    assert dead[0].message_id == str(event.id)
    assert 2 <= calls <= 3


async def test_an_unparseable_message_goes_straight_to_the_dead_letter_queue(rabbit, h):
    bus = await rabbit.bus()
    queue = rabbit.queue("garbage")
    calls = 0

    async def handler(envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1

    await bus.subscribe(queue, ["project.project.created"], handler)
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(rabbit.exchange)
        await exchange.publish(aio_pika.Message(b"\x00not an envelope"), routing_key="project.project.created")

    found: list[bytes] = []

    async def in_dlq() -> bool:
        message = await get_one(rabbit.url, f"{queue}.dlq")
        if message:
            found.append(message.body)
        return bool(found)

    await h.eventually(in_dlq, what="the garbage in the dead-letter queue")
    assert found == [b"\x00not an envelope"]
    assert calls == 0


async def test_the_dead_letter_depth_of_each_consumed_queue_is_a_metric(rabbit, h):
    bus = await rabbit.bus(dead_letter_refresh_s=0.1)
    queue = rabbit.queue("dlqdepth")

    async def handler(envelope: EventEnvelope) -> None:
        return None

    await bus.subscribe(queue, ["project.project.created"], handler)
    gauge = bus.metrics.dead_letters.labels(queue=queue)
    assert await bus.dead_letter_depths() == {queue: 0}
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(rabbit.exchange)
        for _ in range(2):  # unreadable: straight to the DLQ
            await exchange.publish(aio_pika.Message(b"\x00garbage"), routing_key="project.project.created")
    await h.eventually(lambda: gauge._value.get() == 2, what="the gauge to count both dead letters")


async def test_publish_says_when_no_queue_is_bound(rabbit, h):
    bus = await rabbit.bus()
    assert await bus.publish(h.project_created()) is False


async def test_publish_fails_within_its_timeout_when_the_broker_is_unreachable(rabbit, tcp_proxy, h):
    bus = await rabbit.bus(url=tcp_proxy.url, publish_timeout=0.5)
    await tcp_proxy.close()

    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(PublishError):
        await bus.publish(h.project_created())
    assert loop.time() - began < 2
    with pytest.raises(BusUnavailableError):
        await bus.ping()


async def test_start_waits_for_a_broker_that_comes_up_shortly(rabbit, tcp_proxy, h):
    await tcp_proxy.close()
    starting = asyncio.create_task(rabbit.bus(url=tcp_proxy.url, reconnect_interval=0.05, startup_timeout=10))
    await asyncio.sleep(0.2)  # a few refused attempts
    assert not starting.done()
    await tcp_proxy.open()
    bus = await asyncio.wait_for(starting, 10)
    await bus.ping()


async def test_start_gives_up_after_its_timeout(rabbit, tcp_proxy):
    await tcp_proxy.close()
    with pytest.raises(BusUnavailableError):
        await rabbit.bus(url=tcp_proxy.url, reconnect_interval=0.05, startup_timeout=0.3)
    # Each refused attempt's connection was closed, not left for the garbage collector (whose
    # close from __del__ is never awaited outside a running loop).
    gc.collect()
    unclosed = [obj for obj in gc.get_objects() if isinstance(obj, aio_pika.RobustConnection) and not obj.is_closed]
    assert unclosed == []
