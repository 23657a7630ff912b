"""Sending a message (JSON or Server-Sent Events) and re-attaching to a reply being written."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from ampflux_shared.errors import conflict, field_error, not_found, validation_failed
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import conversations
from ..domain.generation import StreamEvent, event_id, stored_events
from ..domain.provider import failed_reply_problem
from ..models import Message
from ..schemas import MessageCreate, MessageRead
from .deps import PROVIDER_RESPONSES, DatabaseDep, HubDep, SessionDep, SettingsDep
from .replying import sse, sse_stream, start_reply

router = APIRouter(prefix="/ai/conversations", tags=["messages"], dependencies=[scoped("ai")])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
EVENT_STREAM = "text/event-stream"
_RESPONSES: dict[int | str, dict] = {
    **PROVIDER_RESPONSES,
    # JSON (the stored reply) or, with Accept: text/event-stream, the events token, tool_call,
    # tool_result, complete and error, each a JSON object (no one schema describes them all).
    200: {"content": {"application/json": {}, EVENT_STREAM: {}}},
    502: {"description": "the provider failed or broke off (the message is stored as failed)"},
    504: {"description": "the provider did not answer in time (the message is stored as failed)"},
    409: {"description": "the conversation's model has been disabled by a company admin"},
}


def _wants_stream(accept: str | None) -> bool:
    return bool(accept) and EVENT_STREAM in (accept or "")


@router.post(
    "/{conversation_id}/messages",
    summary="Send a message; the stored reply as JSON, or streamed with Accept: text/event-stream",
    responses=_RESPONSES,
    response_model=MessageRead,
)
async def send_message(
    conversation_id: uuid.UUID,
    body: MessageCreate,
    request: Request,
    principal: CurrentPrincipal,
    db: DatabaseDep,
    accept: Annotated[str | None, Header()] = None,
):
    started = await start_reply(
        request.app, principal, request.headers.get("authorization", ""), conversation_id, body.content, body.file_ids
    )
    headers = {
        "Location": f"/ai/conversations/{conversation_id}/messages/{started.message_id}/stream",
        "X-Message-Id": str(started.message_id),
    }
    if _wants_stream(accept):
        return StreamingResponse(
            sse_stream(started.generation), media_type=EVENT_STREAM, headers={**SSE_HEADERS, **headers}
        )
    # JSON: wait for the reply (it is written by the server either way).
    last = None
    async for event in started.generation.follow():
        last = event
    if last is not None and last.type == "error":
        raise failed_reply_problem(
            int(last.data.get("status") or 502), str(last.data.get("message")), message_id=str(started.message_id)
        )
    async with db.session() as session:
        message = await session.get(Message, started.message_id)
        if message is None:  # the conversation was deleted while its reply was being written
            raise not_found("conversation")
        return MessageRead.model_validate(message)


@router.get(
    "/{conversation_id}/messages/{message_id}/stream",
    summary="Re-attach to a reply: the events after Last-Event-ID, then the rest as it is written",
    responses={200: _RESPONSES[200], 409: {"description": "the message is the user's, not a reply"}},
)
async def follow_message(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    hub: HubDep,
    db: DatabaseDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    after = 0
    if last_event_id:
        try:
            after = int(last_event_id)
        except ValueError:
            raise validation_failed([field_error("Last-Event-ID", "must be an event id (an integer)")]) from None
        if after < 0:
            raise validation_failed([field_error("Last-Event-ID", "must not be negative")])
    conversation = await conversations.get_owned(session, principal, conversation_id)
    message = await conversations.get_message(session, conversation, message_id)
    if message.role != "assistant":
        raise conflict("only assistant messages are streamed")
    generation = hub.get(message_id)
    if generation is not None:
        return StreamingResponse(sse_stream(generation, after), media_type=EVENT_STREAM, headers=SSE_HEADERS)
    deadline = settings.provider_timeout_s * settings.max_tool_rounds
    stream = _from_store(db, message_id, after, deadline, settings.stream_flush_s)
    return StreamingResponse(stream, media_type=EVENT_STREAM, headers=SSE_HEADERS)


async def _from_store(db, message_id: uuid.UUID, after: int, deadline_s: float, poll_s: float) -> AsyncIterator[str]:
    """Not in this process's memory (finished long ago, or written by another replica): the
    events after `after` that the stored text and tool calls give (the text so far as one
    `token` event, with the id of its last character), then what is stored after it as it
    arrives, then the end. The ids are the writer's own (domain/generation.py), so a client
    that re-attaches here with its Last-Event-ID gets exactly the rest."""
    yield ": stored\n\n"
    give_up = time.monotonic() + deadline_s
    sent = after
    while True:
        async with db.session() as session:
            message = await session.get(Message, message_id)
        if message is None:
            break
        fresh = stored_events(message.content, message.tool_calls, sent)
        if fresh:
            yield "".join(sse(event) for event in fresh)
            sent = fresh[-1].id
        if message.status != "streaming" or time.monotonic() > give_up:
            break
        await asyncio.sleep(poll_s)
    mid = str(message_id)
    if message is None or message.status == "streaming":
        # No id: nothing of the reply has ended (a later re-attach may still get the rest).
        yield sse_unnumbered(
            StreamEvent(0, "error", {"message_id": mid, "message": "the reply is no longer being written"})
        )
        return
    end_id = event_id("complete", len(message.content), len(message.tool_calls))
    if message.status == "failed":
        end = StreamEvent(
            end_id, "error", {"message_id": mid, "message": message.error, "partial_text": message.content}
        )
    else:
        usage = {
            "prompt_tokens": message.tokens_in,
            "completion_tokens": message.tokens_out,
            "total_tokens": message.tokens_in + message.tokens_out,
        }
        end = StreamEvent(end_id, "complete", {"message_id": mid, "full_text": message.content, "usage": usage})
    if end.id > after:  # as from memory: a client that saw the end gets nothing more
        yield sse(end)


def sse_unnumbered(event: StreamEvent) -> str:
    # sse() without the `id:` line: an end that is not the reply's own.
    return sse(event).split("\n", 1)[1]
