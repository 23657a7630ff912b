"""Starting a conversation reply, shared by the HTTP, SSE and WebSocket ways of sending.

What the reply needs, the history included, is read in one round trip (domain/reply_context.py);
then the provider call starts, and once its request is sent the caller may stream the reply's
events, while the exchange (user message + empty assistant message) is written and committed in
a task of its own: with a fast provider that commit (a disk flush) was the longest step before
the first token. The reply's task writes nothing before the commit (`ReplyJob.written`), so the rows
it updates exist; if the commit fails, the reply is stopped and ends in an `error` event (503),
and the message does not exist. A re-attach on another replica may meet a 404 for the few ms
before the commit. A refusal before the reply starts (404, 409, 429, 503) is the request's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from ampflux_shared.errors import ProblemError, field_error, validation_failed
from ampflux_shared.security import Principal

from ..config import Settings
from ..domain import conversations, files, reply_context
from ..domain.context_fit import FileText, budget_chars, fit
from ..domain.generation import Generation, StreamEvent
from ..domain.replies import ReplyJob, run_job
from ..domain.tools import Toolbox
from .deps import refuse_if_spent

# How long the exchange's write and the response wait for the provider request to be sent.
SEND_FIRST_S = 0.25


@dataclass(frozen=True)
class Started:
    conversation_id: uuid.UUID
    user_message_id: uuid.UUID
    message_id: uuid.UUID
    generation: Generation


async def start_reply(
    app: FastAPI,
    principal: Principal,
    bearer: str,
    conversation_id: uuid.UUID,
    text: str,
    file_ids: Sequence[uuid.UUID] = (),
) -> Started:
    settings: Settings = app.state.settings
    if len(file_ids) > settings.max_attachments:
        raise validation_failed([field_error("file_ids", f"at most {settings.max_attachments} files per message")])
    tools = Toolbox(
        bearer=bearer,
        project_url=settings.project_url,
        simulation_url=settings.simulation_url,
        timeout_s=settings.tool_timeout_s,
        study_wait_s=settings.study_wait_s,
        transport=getattr(app.state, "tool_transport", None),
    )
    loop = asyncio.get_running_loop()
    written: asyncio.Future[bool] = loop.create_future()
    ready: asyncio.Future[Started] = loop.create_future()
    hub = app.state.generations

    async def open_reply() -> None:
        generation: Generation | None = None
        try:
            async with app.state.db.session() as session:
                ctx = await reply_context.read(session, principal, conversation_id)
                budget = ctx.budget(settings.company_daily_token_budget)
                refuse_if_spent(ctx.spent_today, budget, app.state.ai_metrics)
                config = app.state.providers.config_of(ctx.provider, principal.company_id)
                config = dataclasses.replace(config, model=ctx.model(config.model))
                history = conversations.history_for_model(ctx.messages, settings.system_prompt)
                content, attachments = text, list[dict[str, Any]]()
                if file_ids:
                    content, attachments = await _with_attachments(
                        app, session, principal, config, history, text, file_ids
                    )
                history.append({"role": "user", "content": content})
                user, reply = conversations.new_exchange(ctx.conversation, text, config.model)
                user.attachments = attachments
                job = ReplyJob(
                    conversation_id,
                    reply.id,
                    history,
                    config,
                    tools,
                    settings.max_tool_rounds,
                    written,
                    flush_s=settings.stream_flush_s,
                    beat_s=settings.stream_stale_s / 3,
                )

                async def work(generation: Generation) -> None:
                    await run_job(
                        job, generation, db=app.state.db, providers=app.state.providers, metrics=app.state.ai_metrics
                    )

                # The provider call starts now, and the caller may stream its events at once;
                # the exchange is written while the provider connects and thinks.
                generation = hub.start(reply.id, work)
                # The provider request goes out first: the connection pool yields to the event
                # loop on its way, and the write and the response's start ran there, ahead of
                # the send (~2.4 ms of CPU). Bounded: a slow connect does not hold up the rest.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SEND_FIRST_S):
                        await job.asked.wait()
                ready.set_result(Started(conversation_id, user.id, reply.id, generation))
                await conversations.store_exchange(session, ctx.conversation, user, reply)
        except BaseException as exc:
            if not written.done():
                written.set_result(False)
            if not ready.done():  # refused before the reply started: the request's own answer
                ready.set_exception(exc)
            elif generation is not None:  # not stored: the reply ends in an error event
                await hub.abandon(generation.message_id, "the reply could not be stored; send it again", status=503)
            if not isinstance(exc, Exception):
                raise
            return
        written.set_result(True)

    # Not the request's task: a client that goes away does not interrupt the write.
    task = asyncio.create_task(open_reply(), name=f"ai-open-reply-{conversation_id}")
    _opening.add(task)
    task.add_done_callback(_opening.discard)
    # Shielded: a client gone before the reply started does not stop it (the server owns it).
    return await asyncio.shield(ready)


# Exchanges being written (a reference keeps the task alive until it ends).
_opening: set[asyncio.Task[None]] = set()


async def _with_attachments(
    app: FastAPI,
    session: Any,
    principal: Principal,
    config: Any,
    history: list[dict[str, Any]],
    text: str,
    file_ids: Sequence[uuid.UUID],
) -> tuple[str, list[dict[str, Any]]]:
    """The message as the model reads it: the files' text, fitted into what is left of the
    model's window (a quarter kept for the answer), each cut announced, then the user's text."""
    rows = []
    for index, file_id in enumerate(dict.fromkeys(file_ids)):
        try:
            rows.append(await files.get_for_company(session, principal, file_id))
        except ProblemError:  # not found: another company's, deleted, or never was
            raise validation_failed(
                [field_error(f"file_ids[{index}]", "no such file of the company", "unknown_file")]
            ) from None
    window = await app.state.model_catalog.context_tokens(config, config.model)
    used = sum(len(str(m.get("content") or "")) for m in history) + len(text)
    budget = budget_chars(window, used, reserve_tokens=max(256, window // 4))
    fitted = fit([FileText(r.name, r.text or "", r.text_chars if r.text else 0) for r in rows], budget)
    parts = []
    for row, piece in zip(rows, fitted, strict=True):
        parts.append(piece.content if row.text else f"--- file: {row.name} ---\n[no text: {row.media_type}]")
    attachments = [
        {"file_id": str(r.id), "name": r.name, "chars": f.total_chars, "chars_used": f.used_chars, "cut": f.cut}
        for r, f in zip(rows, fitted, strict=True)
    ]
    return "\n\n".join([*parts, text]), attachments


def sse(event: StreamEvent) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data, default=str)}\n\n"


async def sse_stream(generation: Generation, after: int = 0) -> AsyncIterator[str]:
    # A comment first: proxies and clients see the stream open before the first token.
    yield ": generating\n\n"
    async for batch in generation.batches(after):
        yield "".join(sse(event) for event in batch)
