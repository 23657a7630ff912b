"""Conversations: create, list (newest activity first), read with messages, rename, delete."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from ampflux_shared.errors import field_error, validation_failed
from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import conversations as service
from ..schemas import ConversationCreate, ConversationRead, ConversationUpdate, ConversationWithMessages, MessageRead
from .deps import PROVIDER_RESPONSES, PageDep, ProvidersDep, SessionDep

# Choosing a model asks the provider which models it has.
_MODEL_CHOICE: dict[int | str, dict] = {
    **{k: PROVIDER_RESPONSES[k] for k in (502, 503, 504)},
    422: {"description": "the model is not one of the company's enabled models"},
}


async def _pick_model(request: Request, session, principal, providers, model: str) -> str:
    config = await providers.for_company(session, principal.company_id)
    return await request.app.state.model_catalog.pick(session, config, principal.company_id, model, field="model")


router = APIRouter(prefix="/ai/conversations", tags=["conversations"], dependencies=[scoped("ai")])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Start a conversation (private to the caller), optionally with one of the company's enabled models",
    responses=_MODEL_CHOICE,
)
async def create_conversation(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    providers: ProvidersDep,
    body: ConversationCreate | None = None,
) -> ConversationRead:
    model = None
    if body is not None and body.model is not None:
        model = await _pick_model(request, session, principal, providers, body.model)
    conversation = await service.create(session, principal, title=body.title if body else "")
    conversation.model = model
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


@router.patch(
    "/{conversation_id}",
    summary="Rename a conversation or choose its model (null: the company's default)",
    responses=_MODEL_CHOICE,
)
async def update_conversation(
    conversation_id: uuid.UUID,
    body: ConversationUpdate,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    providers: ProvidersDep,
) -> ConversationRead:
    conversation = await service.get_owned(session, principal, conversation_id, lock=True)
    if "title" in body.model_fields_set:
        if body.title is None:
            raise validation_failed([field_error("title", "must be text (a conversation always has a title)")])
        conversation.title = body.title.strip()
    if "model" in body.model_fields_set:
        conversation.model = (
            None if body.model is None else await _pick_model(request, session, principal, providers, body.model)
        )
    return ConversationRead.model_validate(conversation)


@router.delete(
    "/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a conversation and its messages"
)
async def delete_conversation(conversation_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    conversation = await service.get_owned(session, principal, conversation_id, lock=True)
    await session.delete(conversation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
