"""`python -m ampflux_project.dlq`: the event queue's dead letters are listed without being
taken and replayed to the queue, on a real broker (issue 9 finding 7)."""

from __future__ import annotations

import uuid

import pytest

from ampflux_shared.events import UserDeactivated, make_event
from ampflux_testing.dead_letters import EventQueues


@pytest.mark.rabbitmq
async def test_a_dead_letter_of_the_event_queue_is_listed_then_replayed(amqp_url, tmp_path):
    event = make_event(
        "auth.user.deactivated", UserDeactivated(user_id=uuid.uuid4(), company_id=uuid.uuid4()), producer="auth"
    )
    async with EventQueues(amqp_url, "project") as queues:
        message_id = await queues.dead_letter(event.to_json(), headers={"x-origin": "test"})

        listed = await queues.command("list", cwd=tmp_path)
        assert [(d["message_id"], d["reason"], d["headers"]["x-origin"]) for d in listed] == [
            (message_id, "rejected", "test")
        ]
        assert str(event.id) in listed[0]["body"]
        assert await queues.depth(queues.dlq) == 1  # listing takes nothing

        assert await queues.command("replay", "--id", "not-there", cwd=tmp_path) == [
            {"replayed": 0, "queue": queues.queue}
        ]
        assert await queues.command("replay", "--id", message_id, cwd=tmp_path) == [
            {"replayed": 1, "queue": queues.queue}
        ]
        assert await queues.depth(queues.dlq) == 0
        back = await queues.take(queues.queue)
        assert back is not None and back.message_id == message_id and back.body == event.to_json()
        assert "x-death" not in (back.headers or {})  # a replay starts afresh
