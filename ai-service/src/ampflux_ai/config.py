"""Settings of the AI service (environment variables prefixed `AI_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ampflux_shared.settings import ServiceSettings

DEFAULT_SYSTEM_PROMPT = (
    "You are the AmpFlux engineering assistant. You help engineers with short-circuit studies "
    "(IEC 60909) on their own projects, circuits and results. Use the tools to look things up or "
    "act; never invent numbers. When you did something, name it (ids)."
)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AI_", env_file=".env", extra="ignore")

    service_name: str = "ai"
    port: int = 8005
    # Replies start in bursts (the bench: 50-200 at once): connections the pool closes after each
    # burst and opens again for the next cost more than waiting a moment for a pooled one, so the
    # AI service keeps 30 (the most it could open before) and opens no more.
    database_pool_size: int = Field(default=30, ge=1, le=500)
    database_max_overflow: int = Field(default=0, ge=0, le=1000)
    # A ping on every checkout cost ~2 ms before each reply's first token: here only a
    # connection idle 10 s or more is pinged (0: every checkout, the other services' default).
    database_ping_after_idle_s: float = Field(default=10.0, ge=0, le=3600)
    # The operator's provider: any OpenAI-compatible server (https://api.openai.com/v1,
    # http://127.0.0.1:11434/v1 for Ollama, a vLLM or LM Studio URL). Empty: no provider, and
    # the AI routes answer 503 (unless a company stored its own).
    provider_base_url: str = ""
    provider_api_key: str = ""
    model: str = ""
    provider_timeout_s: float = Field(default=60.0, gt=0)
    # Retries of a failed provider call before any token arrived (connection errors, 429, 5xx).
    provider_retries: int = Field(default=2, ge=0, le=10)
    # Connections to one provider (kept alive between replies): about the replies one replica
    # streams at once; more wait for a free connection.
    provider_max_connections: int = Field(default=500, ge=1, le=10000)
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    # At most this many model calls per message (tool-calling rounds included).
    max_tool_rounds: int = Field(default=6, ge=1, le=20)
    # Response cache of `POST /ai/assistant`: Redis when set, else in-process.
    redis_url: str = ""
    cache_ttl_s: int = Field(default=3600, ge=1)
    cache_max_entries: int = Field(default=2048, ge=1)
    # Tokens (in + out) a company may spend per UTC day; 0 = no budget.
    company_daily_token_budget: int = Field(default=0, ge=0)
    # Keys that encrypt company provider keys at rest: "id:base64-32-bytes,..." — the first
    # encrypts, all decrypt (add a new one first to rotate). Empty: company keys are refused.
    key_encryption_keys: str = ""
    # Company provider URLs at loopback, link-local or private addresses are refused unless true.
    allow_private_provider_urls: bool = False
    # Where tools reach the other services, with the caller's own token.
    project_url: str = "http://127.0.0.1:8002"
    simulation_url: str = "http://127.0.0.1:8003"
    tool_timeout_s: float = Field(default=30.0, gt=0)
    # How long a tool waits for a study it started to finish.
    study_wait_s: float = Field(default=60.0, gt=0)
    # A finished generation stays re-attachable from memory this long (then from the database).
    stream_keep_s: float = Field(default=300.0, gt=0)
    # A reply's text so far is stored this often while it streams (seconds), so a client that
    # re-attaches on another replica gets what was written, and a crash leaves it.
    stream_flush_s: float = Field(default=0.25, gt=0)
    # A streaming reply whose writer has not stored anything this long (its process died) is
    # marked failed with the text it had stored; the writer beats every third of it (seconds).
    stream_stale_s: float = Field(default=15.0, gt=0)

    # --- Models (issue 12) ---
    # "openai": any OpenAI-style server (models are listed, not loaded or unloaded);
    # "ollama": also its native API for pull / load / unload / status.
    provider_kind: Literal["openai", "ollama"] = "openai"
    # Ollama's native API (http://127.0.0.1:11434); empty: the provider URL without its "/v1".
    ollama_url: str = ""
    # How long a model loaded by `POST /ai/models/start` stays in memory without use (Ollama keep_alive).
    model_keep_alive: str = "30m"
    # The context window assumed when the provider does not say (tokens).
    default_context_tokens: int = Field(default=8192, ge=512)
    # How long the provider's model list is remembered (seconds).
    models_cache_s: float = Field(default=60.0, ge=0)

    # --- Files (issue 12) ---
    # "filesystem": under `files_dir` (default <data_dir>/files); "s3": any S3-compatible store.
    file_storage: Literal["filesystem", "s3"] = "filesystem"
    files_dir: Path | None = None
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_prefix: str = "ai-files/"
    # One file at most this large (bytes): a larger upload stops with 413 while it streams.
    file_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    # Per company: at most this many files (409) and this many bytes in all (413).
    company_max_files: int = Field(default=1000, ge=1)
    company_max_file_bytes: int = Field(default=5 * 1024 * 1024 * 1024, ge=1)
    # Text kept per file for the model (characters); the rest is cut with a note.
    file_text_max_chars: int = Field(default=2_000_000, ge=1000)
    # At most this many files attached to one message.
    max_attachments: int = Field(default=10, ge=1, le=100)

    def files_root(self) -> Path:
        return self.files_dir if self.files_dir is not None else self.data_dir / "files"

    # --- Pipelines (issue 12) ---
    # The RabbitMQ work queue of pipeline executions (bound to `ai.pipeline_execution.queued`);
    # its dead letters go to `<pipeline_queue>.dlq`, where the workers fail the execution.
    pipeline_queue: str = "ai.pipelines"
    # Deliveries of one execution before the broker dead-letters it (a worker that keeps dying on it).
    pipeline_delivery_limit: int = Field(default=5, ge=1, le=100)
    # Executions one worker (or the embedded API process) runs at once; steps wait on the model
    # and the platform, not the CPU.
    pipeline_concurrency: int = Field(default=4, ge=1, le=64)
    # How often a running step checks for a cancel and beats its heartbeat (seconds).
    pipeline_cancel_poll_s: float = Field(default=1.0, gt=0)
    # Execution event streams: re-read this often when no database notification can wake them
    # (SQLite), and send a keep-alive comment this often (seconds).
    pipeline_events_poll_s: float = Field(default=1.0, gt=0)
    pipeline_events_keepalive_s: float = Field(default=15.0, gt=0)
    # `python -m ampflux_ai.pipeline_worker` serves its /metrics on this port (0: none).
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
