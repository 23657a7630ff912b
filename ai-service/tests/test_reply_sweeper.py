"""A reply whose writer died is failed by the sweeper as a failed reply is: its
`ai.message.completed` event in the outbox and its usage, in the same transaction as the
status change (PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from ampflux_ai.domain import replies, reply_progress
from ampflux_ai.domain.chat import Draft
from ampflux_ai.domain.replies import ReplyJob
from ampflux_ai.models import Message, UsageDay, event_tables
from ampflux_shared.db import utcnow

SYSTEM = "You are a test assistant."  # 25 characters: 6 tokens
QUESTION = "why is B7 over the rating?"  # 26 characters: 6 tokens
PARTIAL = "Bus B7 sees 31.2 kA against"  # 27 characters: 6 tokens


async def _abandoned_reply(client, company) -> tuple[Message, object]:
    user = company.user()
    r = await client.post("/ai/conversations", json={"title": "t"}, headers=user.headers)
    conversation_id = uuid.UUID(r.json()["id"])
    old = utcnow() - timedelta(minutes=5)
    reply = Message(
        id=uuid.uuid4(),
        conversation_id=conversation_id,
        role="assistant",
        content=PARTIAL,
        status="streaming",
        model="fake-model",
        created_at=old,
        heartbeat_at=old,
    )
    async with client.app.state.db.session() as session:
        session.add(Message(conversation_id=conversation_id, role="user", content=QUESTION, created_at=old))
        session.add(reply)
    return reply, user


async def _state(client, reply: Message, user) -> tuple[Message, list, list[UsageDay]]:
    async with client.app.state.db.session() as session:
        message = await session.get(Message, reply.id)
        outbox = event_tables.outbox
        payloads = await session.scalars(select(outbox.c.payload).where(outbox.c.type == "ai.message.completed"))
        events = [p for p in payloads if p["message_id"] == str(reply.id)]
        usage = list(await session.scalars(select(UsageDay).where(UsageDay.user_id == user.id)))
    assert message is not None
    return message, events, usage


@pytest.fixture
async def quiet(client):
    """The app with its own sweeper stopped: the test sweeps."""
    await reply_progress.stop_sweeper(client.app)
    return client


async def test_a_swept_reply_is_failed_published_and_counted_once(quiet, company):
    reply, user = await _abandoned_reply(quiet, company)
    db = quiet.app.state.db
    assert await reply_progress.fail_abandoned(db, 60, SYSTEM) == 1
    message, events, usage = await _state(quiet, reply, user)
    assert message.status == "failed" and message.content == PARTIAL and message.error == reply_progress.ABANDONED
    # In: the system prompt and the question (about 4 characters a token); out: the stored text.
    assert (message.tokens_in, message.tokens_out) == (6 + 6, 6)
    assert len(events) == 1
    assert events[0]["status"] == "failed" and events[0]["user_id"] == str(user.id)
    assert (events[0]["tokens_in"], events[0]["tokens_out"]) == (12, 6)
    assert [(u.company_id, u.model, u.tokens_in, u.tokens_out, u.calls) for u in usage] == [
        (company.id, "fake-model", 12, 6, 1)
    ]
    # A second sweep finds nothing: no second event, no second count.
    assert await reply_progress.fail_abandoned(db, 60, SYSTEM) == 0
    _, events, usage = await _state(quiet, reply, user)
    assert len(events) == 1 and usage[0].calls == 1


async def test_no_status_change_without_its_event(quiet, company, monkeypatch):
    reply, user = await _abandoned_reply(quiet, company)

    async def outbox_down(*args, **kwargs):
        raise RuntimeError("the outbox write failed")

    monkeypatch.setattr(reply_progress.events, "message_completed", outbox_down)
    with pytest.raises(RuntimeError):
        await reply_progress.fail_abandoned(quiet.app.state.db, 60, SYSTEM)
    message, events, usage = await _state(quiet, reply, user)
    assert message.status == "streaming" and events == [] and usage == []
    monkeypatch.undo()
    assert await reply_progress.fail_abandoned(quiet.app.state.db, 60, SYSTEM) == 1
    message, events, usage = await _state(quiet, reply, user)
    assert message.status == "failed" and len(events) == 1 and len(usage) == 1


async def test_a_writer_that_comes_back_after_the_sweep_leaves_the_failed_reply_alone(quiet, company):
    reply, user = await _abandoned_reply(quiet, company)
    db = quiet.app.state.db
    assert await reply_progress.fail_abandoned(db, 60, SYSTEM) == 1
    # Its writer was only silent (a stalled process), and now stores the reply it finished.
    written = asyncio.get_running_loop().create_future()
    written.set_result(True)
    job = ReplyJob(reply.conversation_id, reply.id, [], None, None, 1, written)  # type: ignore[arg-type]
    draft = Draft(model="fake-model", text=PARTIAL + " a 25 kA breaker.", tokens_in=40, tokens_out=10)
    await replies._store(job, draft, db, quiet.app.state.ai_metrics, None, None)
    message, events, usage = await _state(quiet, reply, user)
    assert message.status == "failed" and message.content == PARTIAL
    assert len(events) == 1 and [(u.tokens_in, u.tokens_out, u.calls) for u in usage] == [(12, 6, 1)]
