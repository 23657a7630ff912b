"""One pipeline step of each kind. A step never raises for what it met (a provider error, a
tool's 4xx, a template that cannot be filled, an expired token): it answers a failed
`StepResult` whose error says why, and the runner stores it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from openai import OpenAIError

from ampflux_shared.backoff import Backoff
from ampflux_shared.db import Database
from ampflux_shared.errors import ProblemError
from ampflux_shared.infrastructure import retry_infrastructure

from ..config import Settings
from ..domain import usage
from ..domain.chat import Draft, StreamBroken, run_reply
from ..domain.credentials import CredentialsError, SealedToken, open_token
from ..domain.provider import ProviderConfig, Providers, provider_problem
from ..domain.sealing import KeyRing
from ..domain.templates import Context, TemplateError, render_text, render_value
from ..domain.tools import Toolbox
from ..metrics import AIMetrics


@dataclass
class StepResult:
    ok: bool
    output: Any = None
    error: str | None = None
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass(frozen=True)
class Caller:
    """Who the execution acts for, and their sealed token (None: no acting steps)."""

    execution_id: uuid.UUID
    company_id: uuid.UUID
    user_id: uuid.UUID
    token: SealedToken | None


@dataclass
class StepEnvironment:
    database: Database
    settings: Settings
    providers: Providers
    metrics: AIMetrics
    keyring: KeyRing | None
    # Tests reach in-process project and simulation services through this.
    tool_transport: httpx.AsyncBaseTransport | None = None


async def _ignore(_type: str, _data: dict[str, Any]) -> None:
    # A step's tokens are not streamed anywhere: its stored output is what clients read.
    return None


async def run_step(env: StepEnvironment, caller: Caller, step: dict[str, Any], context: Context) -> StepResult:
    try:
        if step["kind"] == "prompt":
            return await _prompt(env, caller, step, context)
        if step["kind"] == "tool":
            arguments = render_value(step.get("arguments") or {}, context)
            return await _tool(env, caller, str(step["tool"]), arguments)
        if step["kind"] == "study":
            return await _study(env, caller, render_value(step["study"], context))
    except TemplateError as exc:
        return StepResult(False, error=f"a template could not be filled: {exc}")
    except CredentialsError as exc:
        return StepResult(False, error=str(exc))
    return StepResult(False, error=f"unknown step kind {step['kind']!r}")


async def _prompt(env: StepEnvironment, caller: Caller, step: dict[str, Any], context: Context) -> StepResult:
    prompt = render_text(str(step["prompt"]), context)
    system = render_text(str(step.get("system") or env.settings.system_prompt), context)

    async def provider() -> ProviderConfig:
        async with env.database.session() as session:
            await usage.check_budget(session, caller.company_id, env.settings.company_daily_token_budget)
            return await env.providers.for_company(session, caller.company_id)

    try:
        config = await retry_infrastructure(
            provider, what="reading the company's provider", backoff=Backoff(base_s=0.2, max_s=10.0)
        )
    except ProblemError as exc:
        if exc.status == 429:
            env.metrics.budget_refusals.inc()
        return StepResult(False, error=exc.detail)
    draft = Draft(model=config.model)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    try:
        await run_reply(env.providers.client(config), draft, messages, _ignore, env.metrics, tools=None, max_rounds=1)
    except OpenAIError as exc:
        return StepResult(
            False, draft.text or None, provider_problem(exc).detail, config.model, draft.tokens_in, draft.tokens_out
        )
    except StreamBroken as exc:
        return StepResult(
            False,
            draft.text or None,
            f"the AI provider's stream broke midway: {exc}",
            config.model,
            draft.tokens_in,
            draft.tokens_out,
        )
    return StepResult(True, draft.text, None, config.model, draft.tokens_in, draft.tokens_out)


def _toolbox(env: StepEnvironment, caller: Caller) -> Toolbox:
    bearer = open_token(env.keyring, caller.token, execution_id=caller.execution_id)
    return Toolbox(
        bearer=bearer,
        project_url=env.settings.project_url,
        simulation_url=env.settings.simulation_url,
        timeout_s=env.settings.tool_timeout_s,
        study_wait_s=env.settings.study_wait_s,
        transport=env.tool_transport,
    )


async def _tool(env: StepEnvironment, caller: Caller, name: str, arguments: Any) -> StepResult:
    if not isinstance(arguments, dict):
        return StepResult(False, error="the tool's arguments are not a JSON object once filled")
    ok, result = await _toolbox(env, caller).call(name, arguments)
    env.metrics.tool_calls.labels(name, "ok" if ok else "error").inc()
    error = None if ok else str((result or {}).get("error") or "the tool failed")
    return StepResult(ok, result, error)


async def _study(env: StepEnvironment, caller: Caller, spec: Any) -> StepResult:
    arguments = {key: value for key, value in dict(spec).items() if value is not None}
    result = await _tool(env, caller, "start_study", arguments)
    if not result.ok:
        return result
    run = result.output or {}
    if run.get("status") == "succeeded":
        return result
    if run.get("status") in ("failed", "cancelled"):
        why = f"the study {run.get('run_id')} {run.get('status')}: {run.get('error')}"
    else:
        why = (
            f"the study {run.get('run_id')} did not finish within AI_STUDY_WAIT_S "
            f"({env.settings.study_wait_s:g} s); it is {run.get('status')}"
        )
    return StepResult(False, run, why)
