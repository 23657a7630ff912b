"""The models a company may use: what its provider offers, merged with the company's choices.

A model is enabled unless a company admin disabled it; the default is the one marked so, else
the provider's configured model. The provider's list is remembered for `models_cache_s`, per
provider, so a message does not cost a listing call.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cachetools import TTLCache
from openai import OpenAIError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import ProblemError, bad_gateway, conflict, field_error, validation_failed

from ..models import CompanyModel
from .ollama import OllamaClient, OllamaError, context_length_of, native_url
from .provider import ProviderConfig, Providers, provider_problem

# What OpenAI-compatible servers that say it call the context window (vLLM, LM Studio, others).
_CONTEXT_FIELDS = ("context_length", "max_model_len", "context_window", "max_context_length")
# Providers whose lists are remembered at once (the operator's and the companies' own): beyond
# it the least recently used is forgotten, which costs one listing call, never a wrong answer.
MAX_CACHED_PROVIDERS = 1024


@dataclass(frozen=True)
class ProviderModel:
    id: str
    context_length: int | None
    tool_calls: bool | None  # None: the provider does not say


@dataclass(frozen=True)
class CompanyModelView:
    id: str
    display_name: str
    enabled: bool
    default: bool
    context_length: int | None
    tool_calls: bool | None


class ModelCatalog:
    def __init__(
        self,
        providers: Providers,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.providers = providers
        self.transport = transport
        # A list is used while younger than `models_cache_s` (0: never remembered).
        self._cache: TTLCache[tuple[str, str, str], list[ProviderModel]] = TTLCache(
            maxsize=MAX_CACHED_PROVIDERS, ttl=providers.settings.models_cache_s, timer=timer
        )

    def ollama(self, config: ProviderConfig) -> OllamaClient:
        settings = self.providers.settings
        # The operator's explicit native URL applies to the operator's provider only.
        explicit = settings.ollama_url if config.source == "operator" else ""
        return OllamaClient(
            native_url(config.base_url, explicit), timeout_s=settings.provider_timeout_s, transport=self.transport
        )

    async def provider_models(self, config: ProviderConfig) -> list[ProviderModel]:
        key = (config.kind, config.base_url, config.api_key)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        models = await (self._ollama_models(config) if config.kind == "ollama" else self._openai_models(config))
        self._cache[key] = models
        return models

    async def _openai_models(self, config: ProviderConfig) -> list[ProviderModel]:
        try:
            page = await self.providers.client(config).models.list()
        except OpenAIError as exc:
            raise provider_problem(exc) from None
        out = []
        async for model in page:
            extra: dict[str, Any] = model.model_extra or {}
            context = next((extra[f] for f in _CONTEXT_FIELDS if isinstance(extra.get(f), int)), None)
            out.append(ProviderModel(model.id, context, None))
        return out

    async def _ollama_models(self, config: ProviderConfig) -> list[ProviderModel]:
        client = self.ollama(config)
        try:
            tags = await client.tags()
            names = [str(t.get("model") or t.get("name")) for t in tags]
            shows = await asyncio.gather(*(client.show(n) for n in names), return_exceptions=True)
        except OllamaError as exc:
            raise bad_gateway(str(exc), slug="ai-provider-error") from None
        out = []
        for name, show in zip(names, shows, strict=True):
            if isinstance(show, BaseException):  # one model's details missing is no reason to hide it
                out.append(ProviderModel(name, None, None))
                continue
            capabilities = show.get("capabilities")
            tools = "tools" in capabilities if isinstance(capabilities, list) else None
            out.append(ProviderModel(name, context_length_of(show), tools))
        return out

    async def for_company(
        self, session: AsyncSession, config: ProviderConfig, company_id: uuid.UUID
    ) -> list[CompanyModelView]:
        offered = await self.provider_models(config)
        if config.model and config.model not in {m.id for m in offered}:
            # The configured model answers even if the server does not list it (some do not).
            offered = [ProviderModel(config.model, None, None), *offered]
        choices = {c.model_id: c for c in await choices_of(session, company_id)}
        chosen_default = next((c.model_id for c in choices.values() if c.is_default and c.enabled), None)
        default = chosen_default or config.model
        views = []
        for m in offered:
            choice = choices.get(m.id)
            views.append(
                CompanyModelView(
                    id=m.id,
                    display_name=(choice.display_name if choice and choice.display_name else m.id),
                    enabled=choice.enabled if choice else True,
                    default=m.id == default,
                    context_length=m.context_length,
                    tool_calls=m.tool_calls,
                )
            )
        return views

    async def pick(
        self, session: AsyncSession, config: ProviderConfig, company_id: uuid.UUID, wanted: str | None, *, field: str
    ) -> str:
        """The model a conversation uses: `wanted` if it is enabled, else 422 naming `field`."""
        if wanted is None:
            return await self.default_model(session, config, company_id)
        views = await self.for_company(session, config, company_id)
        if not any(v.id == wanted and v.enabled for v in views):
            enabled = [v.id for v in views if v.enabled]
            raise validation_failed([field_error(field, f"not an enabled model; enabled: {enabled}", "unknown_model")])
        return wanted

    async def conversation_model(
        self, session: AsyncSession, config: ProviderConfig, company_id: uuid.UUID, chosen: str | None
    ) -> str:
        """The model a conversation's next reply uses: its own (409 if an admin disabled it since),
        else the company's default."""
        if chosen is None:
            return await self.default_model(session, config, company_id)
        row = await session.get(CompanyModel, (company_id, chosen))
        if row is not None and not row.enabled:
            raise conflict(
                f"the conversation's model {chosen!r} has been disabled; choose another (PATCH its model)",
                slug="ai-model-disabled",
            )
        return chosen

    async def default_model(self, session: AsyncSession, config: ProviderConfig, company_id: uuid.UUID) -> str:
        row = await session.scalar(
            select(CompanyModel).where(
                CompanyModel.company_id == company_id, CompanyModel.is_default, CompanyModel.enabled
            )
        )
        return row.model_id if row is not None else config.model

    async def context_tokens(self, config: ProviderConfig, model: str) -> int:
        """The model's context window, or the configured assumption when the provider does not say."""
        try:
            models = await self.provider_models(config)
        except ProblemError:
            models = []
        found = next((m.context_length for m in models if m.id == model and m.context_length), None)
        return found or self.providers.settings.default_context_tokens


async def choices_of(session: AsyncSession, company_id: uuid.UUID) -> list[CompanyModel]:
    return list(await session.scalars(select(CompanyModel).where(CompanyModel.company_id == company_id)))
