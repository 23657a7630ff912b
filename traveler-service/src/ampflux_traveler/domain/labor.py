"""Labor logs: operators clock in and out of steps; at most one open log per operator.

The rule lives in the database (a partial unique index on `operator_id` where `clock_out`
is null): the check here only gives the usual case a friendly answer; two concurrent
clock-ins both pass it, and then the database refuses the second, answered as the same 409.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import ProblemError, conflict
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from ..models import LaborLog, Traveler, TravelerStep
from . import roles, rollups
from .common import get_step, get_traveler
from .travelers import ACTIVE


def already_clocked_in(log: LaborLog | None = None) -> ProblemError:
    return conflict(
        "you are already clocked in" + (f" (since {log.clock_in.isoformat()}); clock out first" if log else ""),
        slug="already-clocked-in",
        open_log_id=str(log.id) if log else None,
    )


async def open_log(session: AsyncSession, operator_id: uuid.UUID, *, lock: bool = False) -> LaborLog | None:
    query = select(LaborLog).where(LaborLog.operator_id == operator_id, LaborLog.clock_out.is_(None))
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def clock_in_step(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, step_id: uuid.UUID
) -> LaborLog:
    roles.require(principal, roles.SHOP_FLOOR, "clocking in")
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    step = await get_step(session, traveler, step_id)
    return await clock_in(session, principal, traveler, step)


async def clock_in(session: AsyncSession, principal: Principal, traveler: Traveler, step: TravelerStep) -> LaborLog:
    if traveler.status not in ACTIVE:
        raise conflict(f"traveler {traveler.number} is {traveler.status}: no clocking in", slug="traveler-not-active")
    existing = await open_log(session, principal.user_id)
    if existing is not None:
        raise already_clocked_in(existing)
    log = LaborLog(
        company_id=traveler.company_id,
        traveler_id=traveler.id,
        step_id=step.id,
        operator_id=principal.user_id,
        clock_in=utcnow(),
        step_name=step.name,
        traveler_type=traveler.traveler_type,
    )
    session.add(log)
    try:
        await session.flush()
    except IntegrityError:
        # The partial unique index: someone (another tab, another station) got there first.
        raise already_clocked_in() from None
    return log


async def close(session: AsyncSession, log: LaborLog, *, at: datetime, reason: str) -> None:
    log.clock_out = at
    log.minutes = round((at - log.clock_in).total_seconds() / 60.0, 4)
    log.closed_reason = reason
    await rollups.add_labor(session, log)


async def clock_out(session: AsyncSession, principal: Principal, operator_id: uuid.UUID | None) -> LaborLog:
    operator = operator_id or principal.user_id
    if operator != principal.user_id:
        roles.require(principal, roles.SUPERVISE, "clocking someone else out")
    else:
        roles.require(principal, roles.SHOP_FLOOR, "clocking out")
    log = await open_log(session, operator, lock=True)
    if log is None or log.company_id != principal.company_id:
        raise conflict("no open labor log to close", slug="not-clocked-in")
    await close(session, log, at=utcnow(), reason="operator" if operator == principal.user_id else "supervisor")
    await session.flush()
    return log


async def close_for_deactivated_user(session: AsyncSession, company_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """A deactivated user's open log is closed now (their time ends with their account)."""
    log = await open_log(session, user_id, lock=True)
    if log is None or log.company_id != company_id:
        return 0
    await close(session, log, at=utcnow(), reason="user_deactivated")
    await session.flush()
    return 1


async def list_logs(
    session: AsyncSession,
    company_id: uuid.UUID,
    *,
    paging: PageParams,
    traveler_id: uuid.UUID | None = None,
    operator_id: uuid.UUID | None = None,
    open_only: bool = False,
) -> Rows[LaborLog]:
    query = select(LaborLog).where(LaborLog.company_id == company_id)
    if traveler_id is not None:
        await get_traveler(session, company_id, traveler_id)
        query = query.where(LaborLog.traveler_id == traveler_id)
    if operator_id is not None:
        query = query.where(LaborLog.operator_id == operator_id)
    if open_only:
        query = query.where(LaborLog.clock_out.is_(None))
    return await paginate(session, query.order_by(LaborLog.clock_in.desc(), LaborLog.id), paging)
