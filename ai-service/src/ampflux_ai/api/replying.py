"""Starting a conversation reply, shared by the HTTP, SSE and WebSocket ways of sending.

The exchange (user message + empty assistant message) is committed before the generation
starts, in its own unit of work: the background task must find the rows, and a client that
re-attaches must find the message even if the request that started it is long gone.
"""

from __future__ import annotations

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
from ..domain import conversations, files
from ..domain.context_fit import FileText, budget_chars, fit
from ..domain.generation import Generation, StreamEvent
from ..domain.replies import ReplyJob, run_job
from ..domain.tools import Toolbox
from .deps import enforce_budget


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
    async with app.state.db.session() as session:
        conversation = await conversations.get_owned(session, principal, conversation_id, lock=True)
        await enforce_budget(session, principal, settings, app.state.ai_metrics)
        config = await app.state.providers.for_company(session, principal.company_id)
        # The conversation's own model, else the company's default (the provider's model when none is chosen).
        model = await app.state.model_catalog.conversation_model(
            session, config, principal.company_id, conversation.model
        )
        config = dataclasses.replace(config, model=model)
        history = conversations.history_for_model(
            await conversations.messages_of(session, conversation), settings.system_prompt
        )
        content, attachments = text, list[dict[str, Any]]()
        if file_ids:
            content, attachments = await _with_attachments(app, session, principal, config, history, text, file_ids)
        history.append({"role": "user", "content": content})
        user, reply = await conversations.start_exchange(session, conversation, text, config.model)
        user.attachments = attachments
    tools = Toolbox(
        bearer=bearer,
        project_url=settings.project_url,
        simulation_url=settings.simulation_url,
        timeout_s=settings.tool_timeout_s,
        study_wait_s=settings.study_wait_s,
        transport=getattr(app.state, "tool_transport", None),
    )
    job = ReplyJob(conversation_id, reply.id, history, config, tools, settings.max_tool_rounds)

    async def work(generation: Generation) -> None:
        await run_job(job, generation, db=app.state.db, providers=app.state.providers, metrics=app.state.ai_metrics)

    generation = app.state.generations.start(reply.id, work)
    return Started(conversation_id, user.id, reply.id, generation)


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
