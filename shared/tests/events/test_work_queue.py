"""The shared work queue on a real RabbitMQ, with a job type of the test's own (the message
body as text): every message is settled, a RETRY counts towards the delivery limit and then
reaches the dead-letter handler, concurrency is the queue's own limit, and stopping lets the
job under way finish and acks it. (The simulation's and the AI's job tests cover the rest
through their subclasses.)"""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from ampflux_shared.events import SimulationRunQueued, make_event
from ampflux_shared.events.dead_letters import list_dead_letters
from ampflux_shared.events.work_queue import JobOutcome, WorkQueue, queued_id
from ampflux_testing.dead_letters import delete_queue_topology


def _read(message: AbstractIncomingMessage) -> str | None:
    text = message.body.decode(errors="replace")
    return text if text.startswith("job:") else None  # anything else is not a job


class Queues:
    def __init__(self, url: str) -> None:
        self.url = url
        tag = uuid.uuid4().hex[:10]
        self.exchange = f"test.{tag}.events"
        self.queue = f"test.{tag}.work"
        self.made: list[WorkQueue[str]] = []

    async def work_queue(self, **options: object) -> WorkQueue[str]:
        queue: WorkQueue[str] = WorkQueue(
            self.url,
            queue=self.queue,
            routing_keys=["test.job.queued"],
            read_job=_read,
            exchange=self.exchange,
            **({"delivery_limit": 2, "retry_delay_s": 0.02} | options),  # type: ignore[arg-type]
        )
        await queue.start()
        self.made.append(queue)
        return queue

    async def publish(self, *bodies: str) -> None:
        """Through the events exchange with the bound routing key, as the outbox relay does."""
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(self.exchange)
            for body in bodies:
                await exchange.publish(aio_pika.Message(body.encode(), message_id=body), routing_key="test.job.queued")

    async def depth(self, queue: str) -> int:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            return (await channel.declare_queue(queue, passive=True)).declaration_result.message_count or 0

    async def cleanup(self) -> None:
        for queue in self.made:
            await queue.stop(grace_s=2.0)
        await delete_queue_topology(self.url, self.queue, exchange=self.exchange)


@pytest.fixture
async def queues(amqp_url):
    q = Queues(amqp_url)
    yield q
    await q.cleanup()


async def test_every_message_is_settled_by_its_answer(queues, h):
    queue = await queues.work_queue()
    handled: list[str] = []

    async def handler(job: str) -> JobOutcome | None:
        handled.append(job)
        if job == "job:bug":
            raise RuntimeError("a bug in the handler")
        return None if job == "job:none" else JobOutcome.DONE  # None is DONE too

    await queue.consume(handler)
    await queues.publish("not a job", "job:bug", "job:none", "job:done")
    await h.eventually(lambda: handled[-1:] == ["job:done"], what="the last job handled")
    await h.eventually(lambda: _depth_is(queues, queues.queue, 0), what="the work queue settled")
    # The message that is no job and the job the handler failed on are dead-lettered at once;
    # the others are acked.
    await h.eventually(lambda: _depth_is(queues, f"{queues.queue}.dlq", 2), what="two dead letters")
    assert handled == ["job:bug", "job:none", "job:done"]
    stats = await queue.stats()
    assert (stats.depth, stats.consumers, stats.dead_letters) == (0, 1, 2)


async def _depth_is(queues: Queues, queue: str, depth: int) -> bool:
    return await queues.depth(queue) == depth


async def test_a_retried_job_spends_the_delivery_limit_then_reaches_the_dead_letter_handler(queues, h):
    queue = await queues.work_queue(delivery_limit=2)
    tries: list[str] = []
    dead: list[tuple[str, str, bool]] = []

    async def handler(job: str) -> JobOutcome:
        tries.append(job)
        return JobOutcome.RETRY

    async def on_dead(job: str, reason: str, limit_reached: bool) -> JobOutcome:
        dead.append((job, reason, limit_reached))
        if job == "job:unrecordable":
            raise RuntimeError("cannot record it")
        return JobOutcome.DONE

    await queue.consume(handler)
    await queue.consume_dead_letters(on_dead)
    await queues.publish("job:poison", "job:unrecordable")
    await h.eventually(lambda: len(dead) == 2, what="both jobs dead-lettered")
    assert tries.count("job:poison") == 3  # the first delivery and two redeliveries
    assert dead[0][0] == "job:poison" and dead[0][2] is True
    assert "delivery_limit" in dead[0][1]
    # A dead letter the handler cannot record is parked for a person, not lost or looped on.
    parked = await list_dead_letters(queues.url, queues.queue, parking=True)
    assert [p.body for p in parked] == ["job:unrecordable"]
    assert await queues.depth(f"{queues.queue}.dlq") == 0


async def test_concurrency_is_the_queues_own_limit(queues, h):
    queue = await queues.work_queue(prefetch=4, concurrency=2)
    running = most = 0
    done: list[str] = []

    async def handler(job: str) -> JobOutcome:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.3)
        running -= 1
        done.append(job)
        return JobOutcome.DONE

    await queue.consume(handler)
    await queues.publish(*(f"job:{n}" for n in range(4)))
    await h.eventually(lambda: len(done) == 4, what="four jobs")
    assert most == 2


async def test_stopping_lets_the_job_under_way_finish_and_acks_it(queues, h):
    queue = await queues.work_queue()
    started = asyncio.Event()
    finished: list[str] = []

    async def handler(job: str) -> JobOutcome:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(job)
        return JobOutcome.DONE

    await queue.consume(handler)
    await queues.publish("job:long")
    async with asyncio.timeout(15):
        await started.wait()
    await queue.stop(grace_s=10.0)
    assert finished == ["job:long"]
    assert await queues.depth(queues.queue) == 0  # acked before the connection closed


def test_a_queued_event_is_read_defensively():
    run_id = uuid.uuid4()
    payload = SimulationRunQueued(
        run_id=run_id, company_id=uuid.uuid4(), project_id=uuid.uuid4(), circuit_version_id=uuid.uuid4()
    )
    event = make_event("simulation.run.queued", payload, producer="test")
    assert queued_id(event.to_json(), "simulation.run.queued", "run_id") == (run_id, event.id)
    assert queued_id(event.to_json(), "other.event.type", "run_id") is None  # another event
    assert queued_id(event.to_json(), "simulation.run.queued", "missing") is None  # no such field
    assert queued_id(b"\x00 not json", "simulation.run.queued", "run_id") is None
