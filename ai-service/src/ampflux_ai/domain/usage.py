"""Tokens per user, company, model and UTC day, and the company's daily budget."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import too_many_requests

from ..models import CompanyBudget, UsageDay


def today() -> date:
    return datetime.now(UTC).date()


def seconds_to_reset(now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return max(1, int((midnight - now).total_seconds()) + 1)


async def spent_today(session: AsyncSession, company_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(UsageDay.tokens_in + UsageDay.tokens_out), 0)).where(
            UsageDay.company_id == company_id, UsageDay.day == today()
        )
    )
    return int(total or 0)


async def budget_of(session: AsyncSession, company_id: uuid.UUID, default: int) -> int:
    """The company's daily budget: its admin's (`PUT /ai/usage/budget`), else `default`; 0 = none."""
    own = await session.scalar(select(CompanyBudget.daily_tokens).where(CompanyBudget.company_id == company_id))
    return default if own is None else int(own)


async def check_budget(session: AsyncSession, company_id: uuid.UUID, default_budget: int) -> None:
    """429 with Retry-After (seconds to the next UTC midnight) once today's budget is spent
    (the company's own budget, else `default_budget`)."""
    budget = await budget_of(session, company_id, default_budget)
    if budget <= 0:
        return
    refuse_if_spent(await spent_today(session, company_id), budget)


def refuse_if_spent(spent: int, budget: int) -> None:
    """The 429 of `check_budget`, for callers that read `spent` and `budget` themselves."""
    if budget > 0 and spent >= budget:
        # The named 429 also states the wait in the body (`retry_after`), as every other 429 does.
        raise too_many_requests(
            f"the company's daily AI budget of {budget} tokens is spent ({spent} used); it resets at 00:00 UTC",
            retry_after_s=seconds_to_reset(),
            slug="ai-budget-exhausted",
            budget=budget,
            spent=spent,
        )


async def record(
    session: AsyncSession, *, company_id: uuid.UUID, user_id: uuid.UUID, model: str, tokens_in: int, tokens_out: int
) -> None:
    """Add one call's tokens to today's row (an upsert: concurrent calls add, never overwrite)."""
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(UsageDay).values(
        day=today(),
        company_id=company_id,
        user_id=user_id,
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        calls=1,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "company_id", "user_id", "model"],
        set_={
            "tokens_in": UsageDay.tokens_in + stmt.excluded.tokens_in,
            "tokens_out": UsageDay.tokens_out + stmt.excluded.tokens_out,
            "calls": UsageDay.calls + 1,
        },
    )
    await session.execute(stmt)


async def report(session: AsyncSession, company_id: uuid.UUID, *, day_from: date, day_to: date) -> list[UsageDay]:
    rows = await session.scalars(
        select(UsageDay)
        .where(UsageDay.company_id == company_id, UsageDay.day >= day_from, UsageDay.day <= day_to)
        .order_by(UsageDay.day.desc(), UsageDay.model, UsageDay.user_id)
    )
    return list(rows)
