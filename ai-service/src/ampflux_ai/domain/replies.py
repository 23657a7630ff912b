"""The work of one conversation reply: run the model loop, then store the message, its usage
and its `ai.message.completed` event in one transaction — complete, or failed with what was
written and why (never a truncated answer marked complete)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
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
from .provider import ProviderConfig, Providers, provider_problem


@dataclass
class ReplyJob:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    history: list[dict[str, Any]]
    config: ProviderConfig
    tools: ToolRunner | None
    max_rounds: int
    # True once the exchange (this reply's row) is committed, False if it never will be: the
    # reply starts before that commit and writes nothing until it is known.
    written: asyncio.Future[bool]


async def run_job(
    job: ReplyJob, generation: Generation, *, db: Database, providers: Providers, metrics: AIMetrics
) -> None:
    draft = Draft(model=job.config.model)
    client = providers.client(job.config)
    failure: str | None = None
    failure_status: int | None = None
    try:
        await run_reply(
            client, draft, job.history, generation.emit, metrics, tools=job.tools, max_rounds=job.max_rounds
        )
    except (OpenAIError, StreamBroken) as exc:
        if isinstance(exc, OpenAIError):
            problem = provider_problem(exc)
            failure, failure_status = problem.detail, problem.status
        else:
            failure, failure_status = f"the AI provider's stream broke midway: {exc}", 502
    except asyncio.CancelledError:
        # Shutting down mid-reply: store what was written as failed, then stop.
        await asyncio.shield(
            _store(job, draft, db, metrics, "the service stopped while the reply was being written", None)
        )
        raise
    message = await _store(job, draft, db, metrics, failure, failure_status)
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


async def _store(
    job: ReplyJob, draft: Draft, db: Database, metrics: AIMetrics, failure: str | None, failure_status: int | None
) -> Message:
    if not await job.written:  # the exchange was never stored: nothing to finish
        return Message(id=job.message_id, content=draft.text)
    async with db.session() as session:
        # Both rows in one round trip (the store is on the way of every other reply's tokens).
        row = (
            await session.execute(
                select(Message, Conversation)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id == job.message_id)
            )
        ).first()
        if row is None:  # deleted while it was being written
            return Message(id=job.message_id, content=draft.text)
        message, conversation = row
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
