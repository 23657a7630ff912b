"""The work of one conversation reply: run the model loop, then store the message, its usage
and its `ai.message.completed` event in one transaction — complete, or failed with what was
written and why (never a truncated answer marked complete)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAIError
from sqlalchemy import select

from ampflux_shared.db import Database, utcnow

from .. import events
from ..metrics import AIMetrics
from ..models import Conversation, Message
from . import usage
from .chat import Draft, StreamBroken, ToolRunner, run_reply
from .generation import Generation
from .provider import ProviderConfig, Providers, on_request_sent, provider_problem
from .reply_progress import store_progress

log = logging.getLogger("ampflux.ai.replies")


@dataclass
class ReplyJob:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    history: list[dict[str, Any]]
    config: ProviderConfig
    tools: ToolRunner | None
    max_rounds: int
    # True once the exchange (this reply's row) is committed, False if it never will be: the
    # reply starts before that commit and writes nothing until it is known. Awaited shielded:
    # a cancelled waiter must not cancel it for the others.
    written: asyncio.Future[bool]
    # Set once the first provider request is on the wire (or the call ended without one): the
    # exchange's write waits for it, so it does not run in the pool's checkpoints before the send.
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    # The text so far is stored this often, a heartbeat at least every `beat_s` (seconds).
    flush_s: float = 0.25
    beat_s: float = 5.0


async def run_job(
    job: ReplyJob, generation: Generation, *, db: Database, providers: Providers, metrics: AIMetrics
) -> None:
    draft = Draft(model=job.config.model)
    client = providers.client(job.config)
    failure: str | None = None
    failure_status: int | None = None
    done = asyncio.Event()
    progress = asyncio.create_task(_keep_progress(job, draft, db, done), name=f"ai-progress-{job.message_id}")
    on_request_sent.set(job.asked.set)  # this task's own context: its provider calls only
    try:
        try:
            await run_reply(
                client, draft, job.history, generation.emit, metrics, tools=job.tools, max_rounds=job.max_rounds
            )
        finally:
            job.asked.set()  # failed before anything was sent: the exchange is written all the same
    except (OpenAIError, StreamBroken) as exc:
        if isinstance(exc, OpenAIError):
            problem = provider_problem(exc)
            failure, failure_status = problem.detail, problem.status
        else:
            failure, failure_status = f"the AI provider's stream broke midway: {exc}", 502
    except asyncio.CancelledError:
        # Shutting down mid-reply: store what was written as failed, then stop.
        await _stop(progress, done)
        await asyncio.shield(
            _store(job, draft, db, metrics, "the service stopped while the reply was being written", None)
        )
        raise
    # No progress write may land after the final one.
    await _stop(progress, done)
    message = await _store(job, draft, db, metrics, failure, failure_status)
    if failure is None and message.status == "failed":  # swept as abandoned meanwhile: that end stands
        failure, failure_status = message.error, 503
    if failure is None:
        await generation.emit(
            "complete",
            {
                "message_id": str(job.message_id),
                "full_text": draft.text,
                "usage": draft.usage(),
                "finish_reason": draft.finish_reason,
            },
        )
    else:
        await generation.emit(
            "error",
            {
                "message_id": str(job.message_id),
                "message": failure,
                "status": failure_status,
                "partial_text": message.content,
            },
        )


async def _keep_progress(job: ReplyJob, draft: Draft, db: Database, done: asyncio.Event) -> None:
    """Store the text so far while it grows, and a heartbeat while it does not, until `done`."""
    if not await asyncio.shield(job.written):
        return
    stored = (0, 0)
    last = time.monotonic()
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), job.flush_s)
        if done.is_set():
            return
        now = (len(draft.text), len(draft.tool_calls))
        if now == stored and time.monotonic() - last < job.beat_s:
            continue
        try:
            await store_progress(db, job.message_id, draft.text, draft.tool_calls)
            stored, last = now, time.monotonic()
        except Exception as exc:  # a missed flush is not the reply's failure; the next one tries again
            log.warning("storing reply %s so far failed: %s", job.message_id, exc)


async def _stop(task: asyncio.Task[None], done: asyncio.Event) -> None:
    # Told, not cancelled: cancelling a write in flight makes the driver open a connection to
    # cancel the query (profiled: a visible share of the service's time under 50 streams).
    # It ends at its next wake-up, or once its write in flight is stored.
    done.set()
    await asyncio.shield(task)


async def _store(
    job: ReplyJob, draft: Draft, db: Database, metrics: AIMetrics, failure: str | None, failure_status: int | None
) -> Message:
    if not await asyncio.shield(job.written):  # the exchange was never stored: nothing to finish
        return Message(id=job.message_id, content=draft.text)
    async with db.session() as session:
        # Both rows in one round trip (the store is on the way of every other reply's tokens).
        row = (
            await session.execute(
                select(Message, Conversation)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id == job.message_id)
                # Against the sweeper (reply_progress.fail_abandoned): one of the two ends it.
                .with_for_update(of=Message)
            )
        ).first()
        if row is None:  # deleted while it was being written
            return Message(id=job.message_id, content=draft.text)
        message, conversation = row
        if message.status != "streaming":
            # Swept as abandoned while this writer was silent (published and counted then): the
            # first end stands, never a second event or usage row for one reply.
            log.warning("reply %s was failed as abandoned before its writer stored it", job.message_id)
            return message
        message.content = draft.text
        message.tool_calls = draft.tool_calls
        message.tokens_in = draft.tokens_in
        message.tokens_out = draft.tokens_out
        message.finish_reason = draft.finish_reason if failure is None else "error"
        message.status = "complete" if failure is None else "failed"
        message.error = failure
        message.completed_at = utcnow()
        message.first_token_ms = None if draft.first_token_s is None else draft.first_token_s * 1000
        message.duration_ms = (time.perf_counter() - draft.started) * 1000
        conversation.last_message_at = message.completed_at
        if draft.tokens_in or draft.tokens_out:
            await usage.record(
                session,
                company_id=conversation.company_id,
                user_id=conversation.user_id,
                model=draft.model,
                tokens_in=draft.tokens_in,
                tokens_out=draft.tokens_out,
            )
        await events.message_completed(session, conversation, message)
    metrics.tokens.labels("in", draft.model).inc(draft.tokens_in)
    metrics.tokens.labels("out", draft.model).inc(draft.tokens_out)
    return message
