"""Starting a conversation reply, shared by the HTTP, SSE and WebSocket ways of sending.

The exchange (user message + empty assistant message) is committed before the generation
starts, in its own unit of work: the background task must find the rows, and a client that
re-attaches must find the message even if the request that started it is long gone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI

from ampflux_shared.security import Principal

from ..config import Settings
from ..domain import conversations
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
    app: FastAPI, principal: Principal, bearer: str, conversation_id: uuid.UUID, text: str
) -> Started:
    settings: Settings = app.state.settings
    async with app.state.db.session() as session:
        conversation = await conversations.get_owned(session, principal, conversation_id, lock=True)
        await enforce_budget(session, principal, settings, app.state.ai_metrics)
        config = await app.state.providers.for_company(session, principal.company_id)
        history = conversations.history_for_model(
            await conversations.messages_of(session, conversation), settings.system_prompt
        )
        history.append({"role": "user", "content": text})
        user, reply = await conversations.start_exchange(session, conversation, text, config.model)
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


def sse(event: StreamEvent) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data, default=str)}\n\n"


async def sse_stream(generation: Generation, after: int = 0) -> AsyncIterator[str]:
    # A comment first: proxies and clients see the stream open before the first token.
    yield ": generating\n\n"
    async for batch in generation.batches(after):
        yield "".join(sse(event) for event in batch)
