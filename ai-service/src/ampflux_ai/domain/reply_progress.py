"""A reply is stored as it streams, and a reply whose writer died is failed, not left streaming.

The writer stores the text so far every `AI_STREAM_FLUSH_S` while it changes, and a heartbeat
every third of `AI_STREAM_STALE_S` while it does not (a long tool call, a slow model). Every
replica sweeps, every half of `AI_STREAM_STALE_S`, the replies nobody has stored anything for in
`AI_STREAM_STALE_S` — their process was killed or lost — and marks them failed with the text
they had stored: never complete, never streaming for ever; published and counted in the usage
like any failed reply.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import Database, utcnow
from ampflux_shared.tasks import cancel_and_wait

from .. import events
from ..models import Conversation, Message
from . import conversations, usage
from .chat import estimate_prompt_tokens, estimate_tokens
from .context_fit import CHARS_PER_TOKEN

log = logging.getLogger("ampflux.ai.replies")

ABANDONED = "the service writing this reply stopped before it finished; the text is what it had stored"


async def store_progress(db: Database, message_id: uuid.UUID, text: str, tool_calls: list[dict[str, Any]]) -> None:
    """The text so far of a reply still streaming (a finished or failed one is left alone)."""
    async with db.session() as session:
        if not db.is_sqlite:
            # Not waiting for the WAL flush: a progress write lost with a database crash costs
            # nothing (the next one, or the final store, writes the whole text again), and
            # waiting for the disk on every flush of every stream held back other replies' tokens.
            await session.execute(sql("SET LOCAL synchronous_commit = off"))
        await session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "streaming")
            .values(content=text, tool_calls=list(tool_calls), heartbeat_at=utcnow())
        )


async def fail_abandoned(db: Database, stale_s: float, system_prompt: str = "") -> int:
    """Mark failed the streaming replies whose writer has been silent `stale_s`; how many.

    Each one as a reply that failed in its writer is: its `ai.message.completed` event (status
    `failed`) in the outbox and its usage recorded, in the transaction that changes its status
    (rows locked, others' skipped: two replicas sweeping at once fail each reply once). The
    writer's token counts died with it, so both are estimated the way a provider that sends no
    usage is (about four characters a token): in, from what the model was sent (the system
    prompt, the conversation before the reply, the attached files' text used); out, from the
    text stored. A lower bound: text written after the last stored flush and the requests of
    further tool rounds are not known."""
    now = utcnow()
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Message, Conversation)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.status == "streaming",
                    func.coalesce(Message.heartbeat_at, Message.created_at) < now - timedelta(seconds=stale_s),
                )
                .with_for_update(of=Message, skip_locked=True)
            )
        ).all()
        for message, conversation in rows:
            message.tokens_in = await _estimated_prompt_tokens(session, conversation, message, system_prompt)
            message.tokens_out = estimate_tokens(message.content)
            message.status, message.finish_reason, message.error = "failed", "error", ABANDONED
            message.completed_at = now
            conversation.last_message_at = now
            await usage.record(
                session,
                company_id=conversation.company_id,
                user_id=conversation.user_id,
                model=message.model or "",
                tokens_in=message.tokens_in,
                tokens_out=message.tokens_out,
            )
            await events.message_completed(session, conversation, message)
    return len(rows)


async def _estimated_prompt_tokens(
    session: AsyncSession, conversation: Conversation, reply: Message, system_prompt: str
) -> int:
    before: list[Message] = []
    for m in await conversations.messages_of(session, conversation):
        if m.id == reply.id:
            break
        before.append(m)
    history = conversations.history_for_model(before, system_prompt)
    attached = sum(int(a.get("chars_used") or 0) for m in before[-1:] for a in (m.attachments or []))
    return estimate_prompt_tokens(history) + attached // CHARS_PER_TOKEN


async def _sweep(app: FastAPI) -> None:
    stale_s = app.state.settings.stream_stale_s
    while True:
        try:
            failed = await fail_abandoned(app.state.db, stale_s, app.state.settings.system_prompt)
            if failed:
                log.warning("marked %d abandoned streaming replies as failed", failed)
        except Exception as exc:  # the database is away: the next sweep tries again
            log.warning("sweeping abandoned replies failed: %s", exc)
        await asyncio.sleep(stale_s / 2)


async def start_sweeper(app: FastAPI) -> None:
    app.state.reply_sweeper = asyncio.create_task(_sweep(app), name="ai-reply-sweeper")


async def stop_sweeper(app: FastAPI) -> None:
    task = getattr(app.state, "reply_sweeper", None)
    await cancel_and_wait(task)
