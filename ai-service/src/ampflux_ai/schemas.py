"""Request and response bodies of the AI service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ampflux_shared.pagination import Page

MAX_MESSAGE_CHARS = 32_000


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=200)
    # One of the company's enabled models (GET /ai/models); absent: the company's default.
    model: str | None = Field(default=None, min_length=1, max_length=200)


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    # One of the company's enabled models; null: back to the company's default.
    model: str | None = Field(default=None, min_length=1, max_length=200)


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    created_at: datetime
    last_message_at: datetime
    # None: the company's default model.
    model: str | None = None


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
    # User messages: the attached files and how much of each went into the context.
    attachments: list[dict[str, Any]] = Field(default_factory=list)


class ConversationWithMessages(ConversationRead):
    messages: list[MessageRead]


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    # Uploaded files (POST /ai/files) whose text goes into the model's context with this message.
    file_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


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


class BudgetWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Tokens (in + out) the company may spend per UTC day; 0 = no budget; null = the operator's
    # default (AI_COMPANY_DAILY_TOKEN_BUDGET) again.
    daily_tokens: int | None = Field(ge=0, le=10**15)


class BudgetRead(BaseModel):
    # What applies now (0 = no budget) and where it comes from: "company" (its admin's) or
    # "default" (the operator's AI_COMPANY_DAILY_TOKEN_BUDGET).
    daily_tokens: int
    source: str
    spent_today: int
    # Seconds until today's spend resets (00:00 UTC).
    resets_in_s: int
    updated_at: datetime | None = None


class ProviderSettingsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(min_length=1, max_length=500)
    model: str = Field(min_length=1, max_length=200)
    # Absent: keep the stored key; "" removes it (servers that need none, e.g. Ollama).
    api_key: str | None = Field(default=None, max_length=500)
    # "ollama": the server also speaks Ollama's native API (models can be pulled, loaded, unloaded).
    kind: Literal["openai", "ollama"] = "openai"


class ProviderSettingsRead(BaseModel):
    base_url: str
    model: str
    kind: str
    api_key_last4: str | None
    updated_at: datetime


# --- pipelines ------------------------------------------------------------------------------

STEP_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
MAX_PIPELINE_STEPS = 20


class PipelineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=STEP_NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    # None: the input is required when executing.
    default: Any = None


class StudySpec(BaseModel):
    """A short-circuit study of a project's circuit version; every field may be a template."""

    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(min_length=1, max_length=500)
    circuit_id: str = Field(min_length=1, max_length=500)
    # Default: the newest version.
    version: int | str | None = None
    # Study options as the simulation service takes them (faults, cases...).
    options: dict[str, Any] = Field(default_factory=dict)


class PipelineStep(BaseModel):
    """One named step. `prompt`: the model answers `prompt` (and `system`, if given); `tool`:
    one of the assistant's tools with `arguments`; `study`: a short-circuit study (`study`).
    Templates `{{inputs.<name>}}` and `{{steps.<earlier step>.output}}` fill text and arguments."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=STEP_NAME_PATTERN)
    # Checked by the domain (not a Literal), so an unknown kind is named at `steps[i].kind`.
    kind: str = Field(max_length=32)
    prompt: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    system: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    tool: str | None = Field(default=None, max_length=100)
    arguments: dict[str, Any] | None = None
    study: StudySpec | None = None


class PipelineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    inputs: list[PipelineInput] = Field(default_factory=list, max_length=50)
    steps: list[PipelineStep] = Field(min_length=1, max_length=MAX_PIPELINE_STEPS)


class PipelineUpdate(PipelineCreate):
    """The whole definition again (PUT replaces it)."""


class PipelineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    inputs: list[PipelineInput]
    steps: list[PipelineStep]
    created_at: datetime
    updated_at: datetime


class PipelineExecute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)


ExecutionStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
StepStatus = Literal["pending", "running", "succeeded", "failed", "cancelled", "skipped"]


class StepRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    name: str
    kind: str
    status: StepStatus
    output: Any = None
    error: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None


class PipelineExecutionSummary(BaseModel):
    """An execution in a list: its state without the steps (read one for those)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    pipeline_id: uuid.UUID | None
    status: ExecutionStatus
    error: str | None
    tokens_in: int
    tokens_out: int
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PipelineExecutionRead(BaseModel):
    id: uuid.UUID
    pipeline_id: uuid.UUID | None
    status: ExecutionStatus
    inputs: dict[str, Any]
    error: str | None
    # The last step's output once the execution succeeded.
    output: Any = None
    tokens_in: int
    tokens_out: int
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # When the caller's token (which tool and study steps use) expires; None: not kept.
    credentials_expire_at: datetime | None
    steps: list[StepRunRead]


# --- Models and files (issue 12) ---


class ModelRead(BaseModel):
    id: str
    display_name: str
    enabled: bool
    default: bool
    # None: the provider does not say.
    context_length: int | None
    tool_calls: bool | None


class ModelList(Page[ModelRead]):
    """A page of the company's models, with what the provider allows beside it."""

    provider_kind: str
    # Starting and stopping work only on an Ollama provider.
    can_start: bool


class ModelChoiceWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    default: bool = False
    display_name: str | None = Field(default=None, min_length=1, max_length=200)


class ModelOperationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)


class ModelStatus(BaseModel):
    id: str
    status: Literal["not-present", "pulling", "loading", "loaded", "unloaded", "failed"]
    percent: float | None = None
    detail: str | None = None
    error: str | None = None
    expires_at: str | None = None


class FileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    size: int
    sha256: str
    media_type: str
    # Characters of extracted text (0: none, e.g. an image).
    text_chars: int
    created_at: datetime


class FileUploadResult(BaseModel):
    # Every file of the request, in the order the parts came.
    items: list[FileRead]


class FileAnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A circuit document: also run a short-circuit study (through the simulation service, in this project).
    study: bool = False
    project_id: uuid.UUID | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="study options (faults, cases...)")


class FileAnalysis(BaseModel):
    file_id: uuid.UUID
    kind: Literal["circuit", "summary"]
    # kind=circuit: counts, voltage levels, validation problems (and the study when asked).
    circuit: dict[str, Any] | None = None
    study: dict[str, Any] | None = None
    # kind=summary: the model's summary of the file's text, and what was cut to fit its window.
    summary: str | None = None
    model: str | None = None
    note: str | None = None
    usage: Usage | None = None
