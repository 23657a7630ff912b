"""Events the AI service publishes through its outbox: `ai.message.completed` (with usage),
written in the transaction that stores the finished message, and `ai.pipeline_execution.queued`,
written with a new execution (it is the job the pipeline workers take)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import EventPublisher
from ampflux_shared.events.catalog import AIMessageCompleted, AIPipelineExecutionQueued

from .models import Conversation, Message, PipelineExecution, event_tables

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


PIPELINE_EXECUTION_QUEUED = "ai.pipeline_execution.queued"


async def pipeline_execution_queued(session: AsyncSession, execution: PipelineExecution) -> None:
    """The job of a pipeline execution: the pipeline work queue is bound to this event."""
    payload = AIPipelineExecutionQueued(
        execution_id=execution.id,
        pipeline_id=execution.pipeline_id,
        company_id=execution.company_id,
        user_id=execution.user_id,
    )
    await publisher.emit(
        session, PIPELINE_EXECUTION_QUEUED, payload, company_id=execution.company_id, actor_id=execution.user_id
    )
