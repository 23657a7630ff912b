"""Company admin routes: token usage and the company's own provider (bring-your-own-key)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from ampflux_shared.db import utcnow
from ampflux_shared.errors import field_error, not_found, unavailable, validation_failed
from ampflux_shared.security import CurrentPrincipal, require_roles, scoped

from ..domain import usage
from ..domain.sealing import SealingError
from ..domain.urls import address_problem
from ..models import CompanyBudget, CompanyProvider
from ..schemas import BudgetRead, BudgetWrite, ProviderSettingsRead, ProviderSettingsWrite, UsageReport, UsageRow
from .deps import ProvidersDep, SessionDep, SettingsDep

router = APIRouter(prefix="/ai", tags=["admin"], dependencies=[scoped("ai"), require_roles("admin")])

MAX_DAYS = 366
# Documented: the company may have no provider of its own (the path names no id to derive it from).
NO_OWN_PROVIDER: dict[int | str, dict[str, Any]] = {404: {"description": "the company has no provider of its own"}}


@router.get("/usage", summary="Tokens in and out per user, model and day (company admins)")
async def read_usage(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    day_from: Annotated[date | None, Query(alias="from", description="first UTC day, default 30 days ago")] = None,
    day_to: Annotated[date | None, Query(alias="to", description="last UTC day, default today")] = None,
) -> UsageReport:
    end = day_to or usage.today()
    start = day_from or end - timedelta(days=29)
    if start > end:
        raise validation_failed([field_error("from", "must not be after 'to'")])
    if (end - start).days >= MAX_DAYS:
        raise validation_failed([field_error("from", f"at most {MAX_DAYS} days at once")])
    rows = await usage.report(session, principal.company_id, day_from=start, day_to=end)
    budget = await usage.budget_of(session, principal.company_id, settings.company_daily_token_budget) or None
    return UsageReport(
        company_id=principal.company_id,
        day_from=start,
        day_to=end,
        tokens_in=sum(r.tokens_in for r in rows),
        tokens_out=sum(r.tokens_out for r in rows),
        budget=budget,
        spent_today=await usage.spent_today(session, principal.company_id),
        rows=[UsageRow.model_validate(r) for r in rows],
    )


async def _budget(session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep) -> BudgetRead:
    row = await session.get(CompanyBudget, principal.company_id)
    return BudgetRead(
        daily_tokens=settings.company_daily_token_budget if row is None else row.daily_tokens,
        source="default" if row is None else "company",
        spent_today=await usage.spent_today(session, principal.company_id),
        resets_in_s=usage.seconds_to_reset(),
        updated_at=None if row is None else row.updated_at,
    )


@router.get("/usage/budget", summary="The company's daily token budget and today's spend (company admins)")
async def read_budget(principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep) -> BudgetRead:
    return await _budget(session, principal, settings)


@router.put(
    "/usage/budget",
    summary="Set the company's daily token budget (0: none; null: the operator's default)",
    # 422 (the shared validation answer): daily_tokens negative or not an integer.
)
async def write_budget(
    body: BudgetWrite, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> BudgetRead:
    row = await session.get(CompanyBudget, principal.company_id, with_for_update=True)
    if body.daily_tokens is None:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(
            CompanyBudget(company_id=principal.company_id, daily_tokens=body.daily_tokens, updated_by=principal.user_id)
        )
    else:
        row.daily_tokens, row.updated_by, row.updated_at = body.daily_tokens, principal.user_id, utcnow()
    await session.flush()
    return await _budget(session, principal, settings)


def _read(row: CompanyProvider) -> ProviderSettingsRead:
    return ProviderSettingsRead(
        base_url=row.base_url, model=row.model, kind=row.kind, api_key_last4=row.key_last4, updated_at=row.updated_at
    )


@router.get(
    "/settings/provider",
    summary="The company's own provider (the key only as its last four characters)",
    responses=NO_OWN_PROVIDER,
)
async def read_provider(principal: CurrentPrincipal, session: SessionDep) -> ProviderSettingsRead:
    row = await session.get(CompanyProvider, principal.company_id)
    if row is None:
        raise not_found("company provider settings")
    return _read(row)


@router.put("/settings/provider", summary="Store the company's own provider: base URL, model, key (encrypted)")
async def write_provider(
    body: ProviderSettingsWrite,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    providers: ProvidersDep,
) -> ProviderSettingsRead:
    base_url = body.base_url.strip().rstrip("/")
    if not settings.allow_private_provider_urls:
        why = await asyncio.to_thread(address_problem, base_url)
        if why:
            raise validation_failed([field_error("base_url", why, "forbidden_address")])
    elif not base_url.startswith(("http://", "https://")):
        raise validation_failed([field_error("base_url", "must be an http(s) URL")])
    row = await session.get(CompanyProvider, principal.company_id, with_for_update=True)
    if row is None:
        row = CompanyProvider(
            company_id=principal.company_id, base_url=base_url, model=body.model, updated_by=principal.user_id
        )
        session.add(row)
    row.base_url, row.model, row.updated_by, row.updated_at = base_url, body.model.strip(), principal.user_id, utcnow()
    row.kind = body.kind
    if body.api_key is not None:
        if body.api_key == "":
            row.key_ciphertext = row.key_id = row.key_last4 = None
        else:
            try:
                row.key_id, row.key_ciphertext = providers.keyring.seal(body.api_key, company_id=principal.company_id)
            except SealingError:
                raise unavailable(
                    "company provider keys cannot be stored: the operator has not set AI_KEY_ENCRYPTION_KEYS",
                    slug="ai-key-encryption-not-configured",
                ) from None
            row.key_last4 = body.api_key[-4:]
    await session.flush()
    return _read(row)


@router.delete(
    "/settings/provider",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Go back to the operator's provider",
    responses=NO_OWN_PROVIDER,
)
async def delete_provider(principal: CurrentPrincipal, session: SessionDep) -> Response:
    row = await session.get(CompanyProvider, principal.company_id)
    if row is None:
        raise not_found("company provider settings")
    await session.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
