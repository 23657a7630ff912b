"""A reply is stored as it streams, and a reply whose writer died is failed, not left streaming.

The writer stores the text so far every `AI_STREAM_FLUSH_S` while it changes, and a heartbeat
every third of `AI_STREAM_STALE_S` while it does not (a long tool call, a slow model). Every
replica sweeps, every half of `AI_STREAM_STALE_S`, the replies nobody has stored anything for in
`AI_STREAM_STALE_S` — their process was killed or lost — and marks them failed with the text
they had stored: never complete, never streaming for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, update
from sqlalchemy import text as sql

from ampflux_shared.db import Database, utcnow

from ..models import Message

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


async def fail_abandoned(db: Database, stale_s: float) -> int:
    """Mark failed the streaming replies whose writer has been silent `stale_s`; how many."""
    now = utcnow()
    async with db.session() as session:
        result = await session.execute(
            update(Message)
            .where(
                Message.status == "streaming",
                func.coalesce(Message.heartbeat_at, Message.created_at) < now - timedelta(seconds=stale_s),
            )
            .values(status="failed", finish_reason="error", error=ABANDONED, completed_at=now)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def _sweep(app: FastAPI) -> None:
    stale_s = app.state.settings.stream_stale_s
    while True:
        try:
            failed = await fail_abandoned(app.state.db, stale_s)
            if failed:
                log.warning("marked %d abandoned streaming replies as failed", failed)
        except Exception as exc:  # the database is away: the next sweep tries again
            log.warning("sweeping abandoned replies failed: %s", exc)
        await asyncio.sleep(stale_s / 2)


async def start_sweeper(app: FastAPI) -> None:
    app.state.reply_sweeper = asyncio.create_task(_sweep(app), name="ai-reply-sweeper")


async def stop_sweeper(app: FastAPI) -> None:
    task = getattr(app.state, "reply_sweeper", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
