"""Events the AI service publishes through its outbox: `ai.message.completed` (with usage),
written in the transaction that stores the finished message."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import EventPublisher
from ampflux_shared.events.catalog import AIMessageCompleted

from .models import Conversation, Message, event_tables

publisher = EventPublisher("ai", event_tables)


async def message_completed(session: AsyncSession, conversation: Conversation, message: Message) -> None:
    payload = AIMessageCompleted(
        conversation_id=conversation.id,
        message_id=message.id,
        company_id=conversation.company_id,
        user_id=conversation.user_id,
        model=message.model or "",
        status=message.status,
        tokens_in=message.tokens_in,
        tokens_out=message.tokens_out,
        tool_calls=[str(call.get("name", "")) for call in message.tool_calls],
    )
    await publisher.emit(
        session, "ai.message.completed", payload, company_id=conversation.company_id, actor_id=conversation.user_id
    )
