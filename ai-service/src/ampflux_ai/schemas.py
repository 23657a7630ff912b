"""Request and response bodies of the AI service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE_CHARS = 32_000


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=200)


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    created_at: datetime
    last_message_at: datetime


class ToolCallRead(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any]
    ok: bool | None = None
    result: Any = None


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    role: str
    content: str
    status: Literal["streaming", "complete", "failed"]
    error: str | None
    tool_calls: list[ToolCallRead]
    model: str | None
    tokens_in: int
    tokens_out: int
    finish_reason: str | None
    created_at: datetime
    completed_at: datetime | None
    first_token_ms: float | None
    duration_ms: float | None


class ConversationWithMessages(ConversationRead):
    messages: list[MessageRead]


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class AssistantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    # What the client is looking at (a project, a result...), handed to the model as JSON.
    context: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AssistantResponse(BaseModel):
    response: str
    cached: bool
    model: str
    usage: Usage


class UsageRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    user_id: uuid.UUID
    model: str
    tokens_in: int
    tokens_out: int
    calls: int


class UsageReport(BaseModel):
    company_id: uuid.UUID
    day_from: date
    day_to: date
    tokens_in: int
    tokens_out: int
    # Today's spend against the company's daily budget (None: no budget).
    budget: int | None
    spent_today: int
    rows: list[UsageRow]


class ProviderSettingsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(min_length=1, max_length=500)
    model: str = Field(min_length=1, max_length=200)
    # Absent: keep the stored key; "" removes it (servers that need none, e.g. Ollama).
    api_key: str | None = Field(default=None, max_length=500)


class ProviderSettingsRead(BaseModel):
    base_url: str
    model: str
    api_key_last4: str | None
    updated_at: datetime
