"""The station workflow: a scanned code and the operator's identity do the natural next
thing — clock in (starting the step if needed), sign off and clock out, or say why not."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import conflict, field_error, not_found, validation_failed
from ampflux_shared.security import Principal

from ..models import LaborLog, StepExecution, Traveler, TravelerStep
from . import labor, roles, steps
from .codes import STEP_CODE, TRAVELER_CODE


@dataclass
class ScanOutcome:
    action: str
    detail: str
    traveler: Traveler
    step: TravelerStep | None = None
    labor_log: LaborLog | None = None
    execution: StepExecution | None = None


async def _traveler_by_number(session: AsyncSession, principal: Principal, number: str) -> Traveler:
    traveler = await session.scalar(
        select(Traveler).where(Traveler.company_id == principal.company_id, Traveler.number == number).with_for_update()
    )
    if traveler is None:
        raise not_found("traveler")
    return traveler


async def scan(session: AsyncSession, principal: Principal, code: str, signoff: steps.SignOff | None) -> ScanOutcome:
    code = code.strip()
    if match := TRAVELER_CODE.match(code):
        traveler = await _traveler_by_number(session, principal, match["number"])
        return ScanOutcome(
            "show", f"{traveler.number} is {traveler.status}; current step: {traveler.current_step or 'none'}", traveler
        )
    match = STEP_CODE.match(code)
    if match is None:
        raise validation_failed(
            [field_error("code", "not a traveler or step code (TRV:... or STP:...)", "unknown_code")]
        )
    roles.require(principal, roles.SHOP_FLOOR, "working at a station")
    traveler = await _traveler_by_number(session, principal, match["number"])
    step = await session.scalar(
        select(TravelerStep).where(
            TravelerStep.traveler_id == traveler.id, TravelerStep.position == int(match["position"])
        )
    )
    if step is None:
        raise not_found("step")
    mine = await labor.open_log(session, principal.user_id, lock=True)
    if mine is not None and mine.step_id != step.id:
        raise conflict(
            "you are clocked in on another step: scan that step to clock out first",
            slug="already-clocked-in",
            open_log_id=str(mine.id),
        )
    if mine is not None:
        execution = None
        if signoff is not None:
            execution = await steps.complete(session, principal, traveler, step, signoff)
        await labor.close(session, mine, at=utcnow(), reason="operator")
        await session.flush()
        if execution is not None:
            return ScanOutcome(
                "completed",
                f"signed off {step.name}: {execution.qty_passed} passed, {execution.qty_failed} failed; clocked out",
                traveler,
                step,
                mine,
                execution,
            )
        return ScanOutcome("clocked_out", f"clocked out of {step.name}", traveler, step, mine)
    execution = await steps.start(session, principal, traveler, step, None)
    log = await labor.clock_in(session, principal, traveler, step)
    return ScanOutcome("clocked_in", f"clocked in on {step.name}", traveler, step, log, execution)
