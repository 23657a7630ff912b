"""Settings of the AI service (environment variables prefixed `AI_`)."""

from __future__ import annotations

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
    # The operator's provider: any OpenAI-compatible server (https://api.openai.com/v1,
    # http://127.0.0.1:11434/v1 for Ollama, a vLLM or LM Studio URL). Empty: no provider, and
    # the AI routes answer 503 (unless a company stored its own).
    provider_base_url: str = ""
    provider_api_key: str = ""
    model: str = ""
    provider_timeout_s: float = Field(default=60.0, gt=0)
    # Retries of a failed provider call before any token arrived (connection errors, 429, 5xx).
    provider_retries: int = Field(default=2, ge=0, le=10)
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
