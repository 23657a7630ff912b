"""The one-shot assistant (`POST /ai/assistant`), with its response cache."""

from __future__ import annotations

import json
import time

from fastapi import APIRouter
from openai import OpenAIError

from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import usage
from ..domain.cache import cache_key
from ..domain.provider import outcome_of, provider_problem
from ..schemas import AssistantRequest, AssistantResponse, Usage
from .deps import PROVIDER_RESPONSES, CacheDep, MetricsDep, ProvidersDep, SessionDep, SettingsDep, enforce_budget

router = APIRouter(prefix="/ai", tags=["assistant"], dependencies=[scoped("ai")])


@router.post(
    "/assistant", summary="Ask once: {prompt, context} → {response, cached, model, usage}", responses=PROVIDER_RESPONSES
)
async def ask(
    body: AssistantRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    providers: ProvidersDep,
    cache: CacheDep,
    metrics: MetricsDep,
) -> AssistantResponse:
    await enforce_budget(session, principal, settings, metrics)
    config = await providers.for_company(session, principal.company_id)
    messages = [{"role": "system", "content": settings.system_prompt}]
    if body.context:
        messages.append(
            {"role": "system", "content": "Context: " + json.dumps(body.context, sort_keys=True, default=str)}
        )
    messages.append({"role": "user", "content": body.prompt})
    key = cache_key(model=config.model, base_url=config.base_url, messages=messages, tools=[])
    hit = await cache.get(key)
    if hit is not None:
        metrics.cache_hits.inc()
        return AssistantResponse(response=hit["response"], cached=True, model=hit["model"], usage=Usage())
    metrics.cache_misses.inc()
    started = time.perf_counter()
    error: OpenAIError | None = None
    try:
        completion = await providers.client(config).chat.completions.create(
            model=config.model,
            messages=messages,  # type: ignore[arg-type]
        )
    except OpenAIError as exc:
        error = exc
        raise provider_problem(exc) from None
    finally:
        outcome = outcome_of(error)
        metrics.provider_calls.labels(config.model, outcome).inc()
        metrics.provider_latency.labels(config.model, outcome).observe(time.perf_counter() - started)
    text = (completion.choices[0].message.content if completion.choices else "") or ""
    used = completion.usage
    tokens_in = used.prompt_tokens if used else 0
    tokens_out = used.completion_tokens if used else 0
    await usage.record(
        session,
        company_id=principal.company_id,
        user_id=principal.user_id,
        model=config.model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
    metrics.tokens.labels("in", config.model).inc(tokens_in)
    metrics.tokens.labels("out", config.model).inc(tokens_out)
    await cache.put(key, {"response": text, "model": completion.model or config.model})
    return AssistantResponse(
        response=text,
        cached=False,
        model=completion.model or config.model,
        usage=Usage(prompt_tokens=tokens_in, completion_tokens=tokens_out, total_tokens=tokens_in + tokens_out),
    )
