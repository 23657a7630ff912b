"""Which OpenAI-compatible server answers a company, and the client that talks to it.

The operator's settings are trusted (a local Ollama on 127.0.0.1 is normal); a company's own
settings win for that company's calls. The `openai` SDK retries connection errors, 429 and 5xx
itself (`max_retries`, exponential backoff) before the first byte; a stream that broke midway
is not retried (the tokens already went out) and ends the message as failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx2
from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    DefaultAsyncHttpxClient,
    OpenAIError,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import ProblemError, bad_gateway, gateway_timeout, unavailable

from ..config import Settings
from ..models import CompanyProvider
from .sealing import KeyRing, SealingError

NOT_CONFIGURED = (
    "No AI provider is configured. The operator sets AI_PROVIDER_BASE_URL (e.g. "
    "https://api.openai.com/v1 or http://127.0.0.1:11434/v1 for Ollama), AI_PROVIDER_API_KEY and "
    "AI_MODEL; or a company admin stores the company's own provider with PUT /ai/settings/provider."
)
# Idle provider connections are dropped after this long: shorter than the keep-alive of the
# usual servers (uvicorn, behind vLLM and the test provider, closes after 5 s), so the client,
# not the server, ends an idle connection; reusing one the server is closing at that moment
# fails the call ("the AI provider is unreachable"), and with no retries configured it is lost.
KEEPALIVE_EXPIRY_S = 4.0

# Set by a reply's task for its provider calls: called once a request is written to the socket.
on_request_sent: ContextVar[Callable[[], None] | None] = ContextVar("ai_on_request_sent", default=None)


async def _tell_when_sent(request: httpx2.Request) -> None:
    """Request hook: when the calling task asked to know (`on_request_sent`), the transport's
    trace tells it the request's body has been written."""
    told = on_request_sent.get()
    if told is None:
        return

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            told()

    request.extensions["trace"] = trace


@dataclass(frozen=True)
class ProviderConfig:
    base_url: str
    api_key: str
    model: str
    source: str  # "operator" | "company"
    # "openai" (OpenAI-style only) or "ollama" (its native API too: pull, load, unload).
    kind: str = "openai"


class Providers:
    """One SDK client (and so one connection pool) per distinct base URL and key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keyring = KeyRing(settings.key_encryption_keys)
        self._clients: dict[tuple[str, str], AsyncOpenAI] = {}

    def operator(self) -> ProviderConfig | None:
        s = self.settings
        if not (s.provider_base_url and s.model):
            return None
        return ProviderConfig(s.provider_base_url, s.provider_api_key, s.model, "operator", s.provider_kind)

    async def for_company(self, session: AsyncSession, company_id: uuid.UUID) -> ProviderConfig:
        return self.config_of(await session.get(CompanyProvider, company_id), company_id)

    def config_of(self, row: CompanyProvider | None, company_id: uuid.UUID) -> ProviderConfig:
        """The company's own provider (`row`, already read), else the operator's."""
        if row is not None:
            key = ""
            if row.key_ciphertext is not None and row.key_id is not None:
                try:
                    key = self.keyring.open(row.key_id, row.key_ciphertext, company_id=company_id)
                except SealingError as exc:
                    raise unavailable(
                        f"the company's AI provider key cannot be used: {exc}", slug="ai-provider-key-unusable"
                    ) from None
            return ProviderConfig(row.base_url, key, row.model, "company", row.kind)
        config = self.operator()
        if config is None:
            raise unavailable(NOT_CONFIGURED, slug="ai-provider-not-configured")
        return config

    def client(self, config: ProviderConfig) -> AsyncOpenAI:
        key = (config.base_url, config.api_key)
        client = self._clients.get(key)
        if client is None:
            client = AsyncOpenAI(
                base_url=config.base_url,
                # Servers without keys (Ollama) still need a non-empty value in the SDK.
                api_key=config.api_key or "none",
                timeout=self.settings.provider_timeout_s,
                max_retries=self.settings.provider_retries,
                # The SDK's own client with the pool sized for the replies one replica streams at
                # once (its default keeps only 100 idle connections: a burst of 200 streams would
                # open 100 afresh every time) and the keep-alive above.
                http_client=DefaultAsyncHttpxClient(
                    timeout=self.settings.provider_timeout_s,
                    limits=httpx2.Limits(
                        max_connections=self.settings.provider_max_connections,
                        max_keepalive_connections=self.settings.provider_max_connections,
                        keepalive_expiry=KEEPALIVE_EXPIRY_S,
                    ),
                    event_hooks={"request": [_tell_when_sent]},
                ),
            )
            self._clients[key] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def provider_problem(exc: OpenAIError) -> ProblemError:
    """The problem a caller gets for a provider failure: 504 on timeout, else 502."""
    if isinstance(exc, APITimeoutError):
        return gateway_timeout("the AI provider did not answer in time", slug="ai-provider-timeout")
    if isinstance(exc, APIStatusError):
        return bad_gateway(
            f"the AI provider failed (HTTP {exc.status_code})",
            slug="ai-provider-error",
            provider_status=exc.status_code,
        )
    if isinstance(exc, APIConnectionError):
        return bad_gateway("the AI provider is unreachable", slug="ai-provider-unreachable")
    return bad_gateway(f"the AI provider failed: {exc}", slug="ai-provider-error")


def failed_reply_problem(status: int, detail: str, **extra: Any) -> ProblemError:
    """The answer to a request that waited for a reply that ended in an error event. The event
    keeps only the status and message of its problem, so the status picks the named problem
    again: 504 the provider timed out, 503 the reply could not be stored or was abandoned,
    anything else (502) the provider failed."""
    if status == 504:
        return gateway_timeout(detail, slug="ai-provider-timeout", **extra)
    if status == 503:
        # Not the provider's failure: the reply could not be stored, or was abandoned.
        return unavailable(detail, slug="ai-reply-unavailable", **extra)
    return bad_gateway(detail, slug="ai-provider-error", **extra)


def outcome_of(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, APIStatusError):
        return f"http_{exc.status_code}"
    return "error"
