"""Dependencies the routers share: the service's long-lived parts on `app.state`.

The getters are `async def`: FastAPI runs a plain `def` dependency in its thread pool, a
thread hand-off (~0.2 ms of CPU, more of waiting on a busy machine) on the way to every
reply's first token for what is an attribute read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.deps import DatabaseDep, SessionDep, after_commit  # noqa: F401  (re-exported for the routers)
from ampflux_shared.errors import ProblemError
from ampflux_shared.pagination import PageDep  # noqa: F401  (re-exported for the routers)
from ampflux_shared.security import Principal

from ..config import Settings
from ..domain import usage
from ..domain.cache import ResponseCache
from ..domain.generation import GenerationHub
from ..domain.provider import Providers
from ..metrics import AIMetrics


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _metrics(request: Request) -> AIMetrics:
    return request.app.state.ai_metrics


async def _providers(request: Request) -> Providers:
    return request.app.state.providers


async def _hub(request: Request) -> GenerationHub:
    return request.app.state.generations


async def _cache(request: Request) -> ResponseCache:
    return request.app.state.response_cache


SettingsDep = Annotated[Settings, Depends(_settings)]
MetricsDep = Annotated[AIMetrics, Depends(_metrics)]
ProvidersDep = Annotated[Providers, Depends(_providers)]
HubDep = Annotated[GenerationHub, Depends(_hub)]
CacheDep = Annotated[ResponseCache, Depends(_cache)]


async def enforce_budget(session: AsyncSession, principal: Principal, settings: Settings, metrics: AIMetrics) -> None:
    """The company's daily budget (429 once spent), counted in the metrics when it refuses."""
    try:
        await usage.check_budget(session, principal.company_id, settings.company_daily_token_budget)
    except ProblemError as exc:
        if exc.status == 429:
            metrics.budget_refusals.inc()
        raise


def refuse_if_spent(spent: int, budget: int, metrics: AIMetrics) -> None:
    """`enforce_budget` for a caller that read today's spend and the budget itself."""
    try:
        usage.refuse_if_spent(spent, budget)
    except ProblemError:
        metrics.budget_refusals.inc()
        raise


# What routes that call the provider may answer besides their result (OpenAPI `responses`).
PROVIDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"description": "the company's daily token budget is spent (Retry-After: seconds to 00:00 UTC)"},
    502: {"description": "the AI provider failed or is unreachable"},
    503: {"description": "no AI provider is configured (the detail says how to configure one)"},
    504: {"description": "the AI provider did not answer in time"},
}
