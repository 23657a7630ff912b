"""Tables of the AI service: conversations, messages, daily usage, company provider settings,
the company's model choices, uploaded files, and pipelines with their executions.

Conversations belong to one user (and carry the company); messages hang off a conversation
and are reached only through it, so the owner filter on the conversation guards them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ampflux_shared.db import JSONDocument, UTCDateTime, new_metadata, utcnow
from ampflux_shared.events import EventTables

metadata = new_metadata()


class Base(DeclarativeBase):
    # Its own registry: no name clashes with other services sharing the embedded process.
    metadata = metadata


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_activity", "user_id", "last_message_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    # Empty until the first exchange names it (or the user does).
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Newest activity: what lists sort by (creation counts as activity).
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The user's pick among the company's enabled models; None: the company's default.
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text, default="")
    # streaming -> complete | failed; user messages are complete at once.
    status: Mapped[str] = mapped_column(String(16), default="complete")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # [{id, name, arguments, result, ok}] in the order the model asked for them.
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # While streaming: when its writer last stored the text so far (or said it is alive).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_token_ms: Mapped[float | None] = mapped_column(nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(nullable=True)
    # Files attached to a user message: [{file_id, name, chars, chars_used}] (what went into the context).
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list, server_default="[]")


class UsageDay(Base):
    """Tokens per user, company, model and UTC day (one row, incremented)."""

    __tablename__ = "usage_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)


class CompanyBudget(Base):
    """A company admin's daily token budget for the company (else `AI_COMPANY_DAILY_TOKEN_BUDGET`)."""

    __tablename__ = "company_budgets"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # Tokens (in + out) per UTC day; 0 = no budget.
    daily_tokens: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CompanyProvider(Base):
    """A company's own provider (bring-your-own-key); the key only ever encrypted."""

    __tablename__ = "company_providers"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    base_url: Mapped[str] = mapped_column(String(500))
    model: Mapped[str] = mapped_column(String(200))
    # AES-GCM: nonce + ciphertext, and the id of the key that sealed it (rotation).
    key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    # "openai" (any OpenAI-style server) or "ollama" (its native API too: pull, load, unload).
    kind: Mapped[str] = mapped_column(String(16), default="openai", server_default="openai")
    updated_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CompanyModel(Base):
    """A company admin's choice about one of the provider's models."""

    __tablename__ = "company_models"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # At most one per company (the write route clears the others).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredFile(Base):
    """An uploaded file of a company; its bytes live in the blob store under `sha256`."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_company_created", "company_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    # Several rows (and companies) may share one blob: it is deleted with its last row.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Sniffed from the content, never taken from the name or the client's header.
    media_type: Mapped[str] = mapped_column(String(100))
    # Extracted text (None: a type without text); capped, `text_chars` is the full length.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    text_chars: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Pipeline(Base):
    """A company's saved pipeline: ordered named steps (validated on save, see
    domain/pipeline_definition.py), private to the user who wrote it."""

    __tablename__ = "pipelines"
    __table_args__ = (Index("ix_pipelines_owner_updated", "company_id", "user_id", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # [{name, description, default}] and [{name, kind, ...}] as the user saved them.
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PipelineExecution(Base):
    """One run of a pipeline. It keeps its own copy of the steps, so editing or deleting the
    pipeline never changes an execution that is under way."""

    __tablename__ = "pipeline_executions"
    __table_args__ = (Index("ix_pipeline_executions_owner_created", "company_id", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    pipeline_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("pipelines.id", ondelete="SET NULL"), nullable=True, index=True
    )
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # queued -> running -> succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="queued")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The caller's bearer token, sealed (AES-GCM, bound to this execution's id), for the tool
    # and study steps that act with the caller's rights; dropped once the execution ends.
    token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    token_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Each claim by a worker draws a new lease; every write of the run checks it, so a worker
    # that lost its message to another one (a redelivery) stops instead of writing twice.
    lease: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PipelineStepRun(Base):
    """One step of an execution: stored as soon as it finishes, before the next one starts."""

    __tablename__ = "pipeline_step_runs"

    execution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pipeline_executions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    # pending -> running -> succeeded | failed | cancelled; pending -> skipped (an earlier one failed)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    output: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    # How many times a worker started it (more than one: a worker died while it ran).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(nullable=True)


event_tables = EventTables(metadata)
