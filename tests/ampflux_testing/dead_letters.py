"""A service's event queue and its DLQ on the real broker, for each service's `dlq` command test.

`EventQueues` declares a queue of its own (a unique name, on an exchange of its own) exactly
as the bus does, dead-letters a message into `<queue>.dlq` the way the broker does it (a
consumer rejects it: the broker adds `x-death`), runs `python -m ampflux_<service>.dlq` as a
real process pointed at it, and deletes everything it declared afterwards.
`check_list_then_replay` is the scenario each service's test runs with it;
`delete_queue_topology` removes what a test declared for a consuming queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
import uuid
from pathlib import Path
from subprocess import PIPE
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from ampflux_shared.events import UserDeactivated, make_event
from ampflux_shared.events.dead_letters import main as dlq_main
from ampflux_shared.events.rabbitmq import declare_consumer_queue


async def delete_queue_topology(url: str, queue: str, *, exchange: str | None = None) -> None:
    """Delete `queue`, its `.dlq` and `.parking` queues and, when the test declared an exchange
    of its own, that exchange and its `.dlx`."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dlq", f"{queue}.parking"):
            await channel.queue_delete(name)
        for name in (exchange, f"{exchange}.dlx") if exchange else ():
            await channel.exchange_delete(name)


class EventQueues:
    def __init__(self, url: str, service: str, queue_setting: str = "EVENTS_QUEUE") -> None:
        self.url = url
        self.service = service
        # The service setting naming the queue its `dlq` command reads (the AI's pipeline work
        # queue is AI_PIPELINE_QUEUE).
        self.queue_setting = queue_setting
        tag = uuid.uuid4().hex[:8]
        self.queue = f"test.{service}-service.{tag}"
        self.dlq = f"{self.queue}.dlq"
        self.exchange = f"test.dlq.{tag}"

    async def __aenter__(self) -> EventQueues:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            await declare_consumer_queue(
                channel, self.queue, exchange=self.exchange, routing_keys=["#"], delivery_limit=5
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        await delete_queue_topology(self.url, self.queue, exchange=self.exchange)

    async def dead_letter(self, body: bytes, *, headers: dict[str, Any] | None = None) -> str:
        """Publish to the work queue, then reject it as a failing consumer would: the broker
        moves it to the DLQ. Returns its message id."""
        message_id = uuid.uuid4().hex
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.default_exchange.publish(
                aio_pika.Message(body, headers=headers or {}, message_id=message_id), routing_key=self.queue
            )
            work = await channel.get_queue(self.queue, ensure=False)
            message = await work.get(no_ack=False, fail=False)
            assert message is not None and message.message_id == message_id
            await message.reject(requeue=False)
        async with asyncio.timeout(10):
            while await self.depth(self.dlq) == 0:  # noqa: ASYNC110  (the broker has no event for it)
                await asyncio.sleep(0.05)
        return message_id

    async def depth(self, queue: str) -> int:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            q = await channel.declare_queue(queue, passive=True)
            return q.declaration_result.message_count or 0

    async def take(self, queue: str) -> AbstractIncomingMessage | None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            q = await channel.get_queue(queue, ensure=False)
            return await q.get(no_ack=True, fail=False)

    async def command(self, *args: str, cwd: Path) -> list[Any]:
        """`python -m ampflux_<service>.dlq ARGS` with the service's settings pointed here;
        its JSON output lines. `cwd` should hold no `.env` of a developer's."""
        prefix = self.service.upper()
        env = dict(os.environ, **{f"{prefix}_AMQP_URL": self.url, f"{prefix}_{self.queue_setting}": self.queue})
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"ampflux_{self.service}.dlq", *args, env=env, cwd=cwd, stdout=PIPE, stderr=PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        return [json.loads(line) for line in out.decode().splitlines()]

    async def shared_command(self, *args: str) -> list[Any]:
        """The shared command every service's `dlq` runs, called in this process with this
        queue: what `command` gives without a fresh Python (about a second of CPU each). The
        service's own entry and settings are proven by `command`."""
        out = io.StringIO()

        def run() -> int:
            with contextlib.redirect_stdout(out):
                return dlq_main(self.url, self.queue, list(args))

        assert await asyncio.to_thread(run) == 0
        return [json.loads(line) for line in out.getvalue().splitlines()]


async def check_list_then_replay(url: str, service: str, cwd: Path, queue_setting: str = "EVENTS_QUEUE") -> None:
    """A rejected event in the service's DLQ is listed (reason and headers) without being
    taken, a replay of an unknown id does nothing, and its replay by id puts it back on the
    queue afresh (no `x-death`). The listing runs the service's command as a process; the two
    replays run the shared command it calls, in this process. `cwd` should hold no `.env` of
    a developer's."""
    event = make_event(
        "auth.user.deactivated", UserDeactivated(user_id=uuid.uuid4(), company_id=uuid.uuid4()), producer="auth"
    )
    async with EventQueues(url, service, queue_setting) as queues:
        message_id = await queues.dead_letter(event.to_json(), headers={"x-origin": "test"})

        listed = await queues.command("list", cwd=cwd)
        assert [(d["message_id"], d["reason"], d["headers"]["x-origin"]) for d in listed] == [
            (message_id, "rejected", "test")
        ]
        assert str(event.id) in listed[0]["body"]
        assert await queues.depth(queues.dlq) == 1  # listing takes nothing

        assert await queues.shared_command("replay", "--id", "not-there") == [{"replayed": 0, "queue": queues.queue}]
        assert await queues.shared_command("replay", "--id", message_id) == [{"replayed": 1, "queue": queues.queue}]
        assert await queues.depth(queues.dlq) == 0
        back = await queues.take(queues.queue)
        assert back is not None and back.message_id == message_id and back.body == event.to_json()
        assert "x-death" not in (back.headers or {})  # a replay starts afresh
