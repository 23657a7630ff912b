"""The job queue against the real broker, in process: every message settled, one job at a
time, a broker blip that does not cancel the job in progress, dead letters kept and replayed.

Each test has its own exchange and queues (deleted afterwards). A handler stands in for the
runner, so what is asserted is the queue's own behaviour.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from urllib.parse import urlparse, urlunparse

import aio_pika
import pytest

from ampflux_shared.events import SimulationRunQueued, make_event
from ampflux_shared.events.dead_letters import list_dead_letters, replay_dead_letters
from ampflux_shared.events.work_queue import JobOutcome
from ampflux_simulation.events import RUN_QUEUED
from ampflux_simulation.jobs.job import Job
from ampflux_simulation.jobs.queue import RabbitJobQueue
from ampflux_testing.dead_letters import delete_queue_topology
from ampflux_testing.polling import eventually
from ampflux_testing.tcp_proxy import TcpProxy

pytestmark = pytest.mark.rabbitmq


class Broker:
    """Per-test names, a way to put raw messages on a queue and to read one back."""

    def __init__(self, url: str) -> None:
        self.url = url
        tag = uuid.uuid4().hex[:10]
        self.exchange = f"test.{tag}.events"
        self.queue = f"test.{tag}.jobs"
        self.queues: list[RabbitJobQueue] = []

    def job_queue(self, url: str | None = None, **options) -> RabbitJobQueue:
        options = {"delivery_limit": 3, "retry_delay_s": 0.05} | options
        queue = RabbitJobQueue(url or self.url, queue=self.queue, exchange=self.exchange, **options)
        self.queues.append(queue)
        return queue

    async def put(self, body: bytes, *, to: str | None = None, headers: dict | None = None) -> str:
        message_id = uuid.uuid4().hex
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.default_exchange.publish(
                aio_pika.Message(body, headers=headers or {}, message_id=message_id), routing_key=to or self.queue
            )
        return message_id

    async def get(self, queue: str) -> aio_pika.abc.AbstractIncomingMessage | None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            q = await channel.get_queue(queue, ensure=False)
            return await q.get(no_ack=True, fail=False)

    async def depth(self, queue: str) -> int:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            q = await channel.declare_queue(queue, passive=True)
            return q.declaration_result.message_count or 0

    async def cleanup(self) -> None:
        for queue in self.queues:
            await queue.stop(grace_s=2.0)
        await delete_queue_topology(self.url, self.queue, exchange=self.exchange)


@pytest.fixture
async def broker(amqp_url) -> AsyncIterator[Broker]:
    b = Broker(amqp_url)
    yield b
    await b.cleanup()


def job_body(run_id: uuid.UUID | None = None) -> bytes:
    payload = SimulationRunQueued(
        run_id=run_id or uuid.uuid4(), company_id=uuid.uuid4(), project_id=uuid.uuid4(), circuit_version_id=uuid.uuid4()
    )
    return make_event(RUN_QUEUED, payload, producer="test").to_json()


async def test_a_job_with_an_unreadable_delivery_count_is_handled_and_the_worker_goes_on(broker):
    queue = broker.job_queue()
    await queue.start()
    handled: list[uuid.UUID] = []

    async def handler(job: Job) -> JobOutcome:
        handled.append(job.run_id)
        return JobOutcome.DONE

    await queue.consume(handler)
    odd, after = uuid.uuid4(), uuid.uuid4()
    # A foreign publisher's header: read as a first delivery, not an exception left unsettled.
    await broker.put(job_body(odd), headers={"x-delivery-count": "three"})
    await broker.put(job_body(after))
    await eventually(lambda: handled == [odd, after], what="both jobs handled in order")
    assert await broker.depth(broker.queue) == 0


async def test_a_handler_that_fails_dead_letters_its_message_at_once(broker):
    queue = broker.job_queue()
    await queue.start()
    calls: list[uuid.UUID] = []
    bad = uuid.uuid4()

    async def handler(job: Job) -> JobOutcome:
        calls.append(job.run_id)
        if job.run_id == bad:
            raise RuntimeError("a bug in the runner")
        return JobOutcome.DONE

    await queue.consume(handler)
    await broker.put(job_body(bad))
    good = uuid.uuid4()
    await broker.put(job_body(good))
    await eventually(lambda: good in calls, what="the next job")
    dead = await broker.get(f"{broker.queue}.dlq")
    assert dead is not None and str(bad).encode() in dead.body
    assert calls.count(bad) == 1  # settled to the DLQ, not requeued into the delivery limit
    deaths = dead.headers["x-death"]
    assert isinstance(deaths, list) and deaths[0]["reason"] in ("rejected", b"rejected")


async def test_an_unreadable_dead_letter_is_parked_with_its_headers(broker):
    queue = broker.job_queue()
    await queue.start()
    recorded: list[uuid.UUID] = []

    async def on_dead(job: Job, reason: str, delivery_limit_reached: bool) -> JobOutcome:
        recorded.append(job.run_id)
        return JobOutcome.DONE

    await queue.consume_dead_letters(on_dead)
    message_id = await broker.put(b"\x00 not an event", to=f"{broker.queue}.dlq", headers={"x-origin": "lab"})
    readable = uuid.uuid4()
    await broker.put(job_body(readable), to=f"{broker.queue}.dlq")
    await eventually(lambda: recorded == [readable], what="the readable dead letter recorded")

    parked = await list_dead_letters(broker.url, broker.queue, parking=True)
    assert [(p.message_id, p.headers.get("x-origin"), p.body) for p in parked] == [
        (message_id, "lab", "\x00 not an event")
    ]
    assert await broker.depth(f"{broker.queue}.dlq") == 0


async def test_a_dead_letter_its_handler_sends_back_returns_to_the_work_queue_afresh(broker):
    queue = broker.job_queue()
    await queue.start()
    seen: list[tuple[uuid.UUID, bool]] = []

    async def on_dead(job: Job, reason: str, delivery_limit_reached: bool) -> JobOutcome:
        seen.append((job.run_id, delivery_limit_reached))
        return JobOutcome.RETRY

    await queue.consume_dead_letters(on_dead)
    run = uuid.uuid4()
    death = {"reason": "delivery_limit", "count": 1, "queue": broker.queue}
    message_id = await broker.put(
        job_body(run), to=f"{broker.queue}.dlq", headers={"x-death": [death], "x-delivery-count": 3}
    )
    await eventually(lambda: seen == [(run, True)], what="the dead letter handled")
    await eventually(lambda: _depth_is(broker, broker.queue, 1), what="the job back on the work queue")
    again = await broker.get(broker.queue)
    assert again is not None and str(run).encode() in again.body and again.message_id == message_id
    assert "x-death" not in (again.headers or {})  # a fresh start: the broker's count is gone
    assert await broker.depth(f"{broker.queue}.dlq") == 0


async def _depth_is(broker: Broker, queue: str, depth: int) -> bool:
    return await broker.depth(queue) == depth


async def test_one_job_at_a_time_even_when_the_broker_hands_out_more(broker):
    # Prefetch 3 stands in for the credit RabbitMQ 3.10 leaks after dead-lettering.
    queue = broker.job_queue(prefetch=3, concurrency=1)
    await queue.start()
    running = 0
    most = 0
    done: list[uuid.UUID] = []

    async def handler(job: Job) -> JobOutcome:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.3)
        running -= 1
        done.append(job.run_id)
        return JobOutcome.DONE

    await queue.consume(handler)
    for _ in range(3):
        await broker.put(job_body())
    await eventually(lambda: len(done) == 3, what="three jobs")
    assert most == 1


async def test_a_broker_disconnect_does_not_cancel_the_job_in_progress(broker, amqp_url):
    target = urlparse(amqp_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.open()
    try:
        netloc = f"{target.username or 'guest'}:{target.password or 'guest'}@127.0.0.1:{proxy.port}"
        # aio-pika retries a failed reconnect after 5 s by default: the outage would be waited
        # out in full before the redelivery. A short interval repairs it as soon as the proxy is back.
        query = "&".join(filter(None, [target.query, "reconnect_interval=0.1"]))
        queue = broker.job_queue(urlunparse(target._replace(netloc=netloc, query=query)))
        await queue.start()
        started = asyncio.Event()
        finished: list[uuid.UUID] = []
        cancelled: list[uuid.UUID] = []

        async def handler(job: Job) -> JobOutcome:
            started.set()
            try:
                # The solve outlasts the outage (0.5 s); the redelivery of a finished job is
                # a no-op for the runner (its inbox), so it takes no time here either.
                await asyncio.sleep(0 if job.run_id in finished else 1.0)
            except asyncio.CancelledError:
                cancelled.append(job.run_id)
                raise
            finished.append(job.run_id)
            return JobOutcome.DONE

        await queue.consume(handler)
        run_id = uuid.uuid4()
        await broker.put(job_body(run_id))
        async with asyncio.timeout(15):
            await started.wait()
        await proxy.close()  # the broker is gone mid-solve
        await asyncio.sleep(0.5)
        await proxy.open()
        # The first solve ran to its end; the unacked job comes back (the runner's inbox
        # makes that redelivery a no-op) once the connection is repaired.
        await eventually(lambda: finished.count(run_id) >= 2, timeout=30, what="the solve and its redelivery")
        assert cancelled == []
    finally:
        await proxy.close()


async def test_dead_letters_are_listed_and_replayed_to_the_work_queue(broker):
    queue = broker.job_queue()
    await queue.start()  # declares the queues; nobody consumes
    run_id = uuid.uuid4()
    await broker.put(job_body(run_id))
    connection = await aio_pika.connect(broker.url)
    async with connection:
        channel = await connection.channel()
        work = await channel.get_queue(broker.queue, ensure=False)
        message = await work.get(no_ack=False, fail=False)
        assert message is not None
        await message.reject(requeue=False)  # the broker dead-letters it with x-death
    await eventually(lambda: broker.depth(f"{broker.queue}.dlq"), what="the dead letter")

    listed = await list_dead_letters(broker.url, broker.queue)
    assert len(listed) == 1 and listed[0].reason == "rejected" and str(run_id) in listed[0].body
    assert await broker.depth(f"{broker.queue}.dlq") == 1  # listing takes nothing

    assert await replay_dead_letters(broker.url, broker.queue, message_ids=["not-there"]) == 0
    assert await replay_dead_letters(broker.url, broker.queue, replay_all=True) == 1
    replayed = await broker.get(broker.queue)
    assert replayed is not None and str(run_id).encode() in replayed.body
    assert "x-death" not in (replayed.headers or {})
    assert await broker.depth(f"{broker.queue}.dlq") == 0


async def test_the_dlq_command_lists_the_job_queues_dead_letters(broker):
    queue = broker.job_queue()
    await queue.start()
    message_id = await broker.put(job_body(), to=f"{broker.queue}.dlq", headers={"x-origin": "lab"})
    env = dict(os.environ, SIMULATION_AMQP_URL=broker.url, SIMULATION_JOBS_QUEUE=broker.queue)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ampflux_simulation.dlq", "list", env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [(line["message_id"], line["headers"]["x-origin"]) for line in lines] == [(message_id, "lab")]
    assert await broker.depth(f"{broker.queue}.dlq") == 1
