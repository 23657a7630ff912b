"""Conversations: create, list (newest activity first), read with messages, rename, delete."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import conversations as service
from ..schemas import ConversationCreate, ConversationRead, ConversationUpdate, ConversationWithMessages, MessageRead
from .deps import PageDep, SessionDep

router = APIRouter(prefix="/ai/conversations", tags=["conversations"], dependencies=[scoped("ai")])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Start a conversation (private to the caller)")
async def create_conversation(
    principal: CurrentPrincipal, session: SessionDep, body: ConversationCreate | None = None
) -> ConversationRead:
    conversation = await service.create(session, principal, title=body.title if body else "")
    return ConversationRead.model_validate(conversation)


@router.get("", summary="The caller's conversations, newest activity first")
async def list_conversations(
    principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[ConversationRead]:
    rows = await service.list_owned(session, principal, paging)
    return Page(
        items=[ConversationRead.model_validate(c) for c in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.get("/{conversation_id}", summary="A conversation with its messages")
async def read_conversation(
    conversation_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> ConversationWithMessages:
    conversation = await service.get_owned(session, principal, conversation_id)
    messages = await service.messages_of(session, conversation)
    return ConversationWithMessages(
        **ConversationRead.model_validate(conversation).model_dump(),
        messages=[MessageRead.model_validate(m) for m in messages],
    )


@router.patch("/{conversation_id}", summary="Rename a conversation")
async def rename_conversation(
    conversation_id: uuid.UUID, body: ConversationUpdate, principal: CurrentPrincipal, session: SessionDep
) -> ConversationRead:
    conversation = await service.get_owned(session, principal, conversation_id, lock=True)
    conversation.title = body.title.strip()
    return ConversationRead.model_validate(conversation)


@router.delete(
    "/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a conversation and its messages"
)
async def delete_conversation(conversation_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    conversation = await service.get_owned(session, principal, conversation_id, lock=True)
    await session.delete(conversation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
