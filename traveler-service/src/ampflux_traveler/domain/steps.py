"""Process steps on the floor: start, sign off, failures (hold or rework), serial units.

History is never rewritten: a sign-off completes one `StepExecution`; failed units sent
back for rework get new `rework` executions at the chosen earlier step, linked to the
failed execution, which carry them step by step back to where they failed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import ProblemError, conflict, field_error, forbidden, not_found, validation_failed
from ampflux_shared.security import Principal

from .. import events
from ..models import SerialUnit, StepExecution, Traveler, TravelerStep, UnitStepResult
from . import roles, rollups
from .common import get_step, get_traveler, record_changes, steps_of
from .travelers import ACTIVE, set_status


@dataclass
class SignOff:
    qty_passed: int
    qty_failed: int = 0
    notes: str = ""
    failure_action: str | None = None
    rework_to_position: int | None = None
    execution_id: uuid.UUID | None = None
    # serial -> passed
    serial_results: dict[str, bool] = field(default_factory=dict)


def _not_active(traveler: Traveler) -> ProblemError:
    return conflict(
        f"traveler {traveler.number} is {traveler.status}: work happens only while it is released or in progress",
        slug="traveler-not-active",
        current_status=traveler.status,
    )


async def first_pass_started(session: AsyncSession, step: TravelerStep) -> int:
    """Units that have entered this step for the first time (rework is not counted)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(StepExecution.quantity), 0)).where(
            StepExecution.step_id == step.id, StepExecution.kind == "first"
        )
    )
    return int(total or 0)


async def open_execution(session: AsyncSession, step: TravelerStep, status: str) -> StepExecution | None:
    return await session.scalar(
        select(StepExecution)
        .where(StepExecution.step_id == step.id, StepExecution.status == status)
        .order_by(StepExecution.created_at, StepExecution.id)
        .limit(1)
    )


async def start_step(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, step_id: uuid.UUID, quantity: int | None
) -> StepExecution:
    roles.require(principal, roles.SHOP_FLOOR, "starting a step")
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    step = await get_step(session, traveler, step_id)
    return await start(session, principal, traveler, step, quantity)


async def start(
    session: AsyncSession, principal: Principal, traveler: Traveler, step: TravelerStep, quantity: int | None
) -> StepExecution:
    if traveler.status not in ACTIVE:
        raise _not_active(traveler)
    now = utcnow()
    execution = await open_execution(session, step, "pending")  # rework waiting here goes first
    if execution is not None:
        execution.status = "started"
        execution.started_by = principal.user_id
        execution.started_at = now
    else:
        remaining = traveler.quantity - await first_pass_started(session, step)
        if remaining <= 0:
            started = await open_execution(session, step, "started")
            if started is not None:
                return started
            raise conflict(f"every unit has already been through {step.name}; nothing is waiting there")
        if quantity is not None and quantity > remaining:
            raise validation_failed(
                [field_error("quantity", f"only {remaining} unit(s) are left to start at {step.name}", "too_many")]
            )
        execution = StepExecution(
            company_id=traveler.company_id,
            traveler_id=traveler.id,
            step_id=step.id,
            kind="first",
            quantity=quantity or remaining,
            status="started",
            started_by=principal.user_id,
            started_at=now,
            **copied_facts(traveler, step),
        )
        session.add(execution)
    if traveler.status == "released":
        await set_status(session, traveler, "in_progress", reason="", actor_id=principal.user_id)
    if step.status != "in_progress":
        record_changes(
            session,
            traveler,
            entity="step",
            entity_id=step.id,
            changes={"status": (step.status, "in_progress")},
            actor_id=principal.user_id,
        )
        step.status = "in_progress"
    await session.flush()
    return execution


async def complete_step(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, step_id: uuid.UUID, signoff: SignOff
) -> StepExecution:
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    step = await get_step(session, traveler, step_id)
    return await complete(session, principal, traveler, step, signoff)


async def complete(
    session: AsyncSession, principal: Principal, traveler: Traveler, step: TravelerStep, signoff: SignOff
) -> StepExecution:
    if not principal.has_role(step.signoff_role):
        raise forbidden(f"signing off {step.name} requires the role {step.signoff_role}")
    if traveler.status != "in_progress":
        raise _not_active(traveler)
    execution = await _execution_to_complete(session, step, signoff.execution_id)
    counted = signoff.qty_passed + signoff.qty_failed
    errors = []
    if counted > execution.quantity:
        errors.append(
            field_error(
                "qty_failed",
                f"passed + failed ({counted}) exceeds the {execution.quantity} unit(s) of this execution",
                "too_many",
            )
        )
    if counted == 0:
        errors.append(field_error("qty_passed", "sign off at least one unit", "too_few"))
    steps = await steps_of(session, traveler.id)
    target: TravelerStep | None = None
    if signoff.qty_failed and signoff.failure_action == "rework":
        target = next((s for s in steps if s.position == signoff.rework_to_position), None)
        if target is None or target.position > step.position:
            errors.append(
                field_error(
                    "rework_to_position",
                    f"rework goes back to an existing step at or before {step.position}",
                    "invalid",
                )
            )
    units = await _check_serials(session, traveler, signoff, errors)
    if errors:
        raise validation_failed(errors)

    now = utcnow()
    if counted < execution.quantity:  # the rest stays at this step
        rest = execution.quantity - counted
        execution.quantity = counted
        if execution.kind == "rework":
            session.add(_rework(traveler, step, execution.rework_of, execution.rework_until, rest))
    execution.status = "completed"
    execution.completed_at = now
    execution.signed_off_by = principal.user_id
    execution.signoff_role = step.signoff_role
    execution.qty_passed = signoff.qty_passed
    execution.qty_failed = signoff.qty_failed
    execution.notes = signoff.notes
    execution.failure_action = signoff.failure_action if signoff.qty_failed else None
    await session.flush()
    await rollups.add_signoff(session, execution)

    for serial, passed in signoff.serial_results.items():
        unit = units[serial]
        session.add(
            UnitStepResult(
                company_id=traveler.company_id,
                unit_id=unit.id,
                execution_id=execution.id,
                step_id=step.id,
                passed=passed,
                recorded_by=principal.user_id,
                recorded_at=now,
            )
        )
        if not passed:
            unit.status = "failed"
        elif execution.kind == "rework" and execution.rework_until == step.position:
            unit.status = "ok"  # back where it failed, and passed this time

    # Units passing rework move on towards the step where they failed.
    if execution.kind == "rework" and signoff.qty_passed and (execution.rework_until or 0) > step.position:
        following = next((s for s in steps if s.position > step.position), None)
        if following is not None:
            session.add(_rework(traveler, following, execution.rework_of, execution.rework_until, signoff.qty_passed))
            await _mark(session, traveler, following, "in_progress", principal.user_id)

    if signoff.qty_failed:
        failed_serials = [s for s, ok in signoff.serial_results.items() if not ok]
        if failed_serials:
            for serial in failed_serials:
                await events.unit_failed(
                    session, traveler, step, execution, serial=serial, quantity=1, actor_id=principal.user_id
                )
        else:
            await events.unit_failed(
                session, traveler, step, execution, serial=None, quantity=signoff.qty_failed, actor_id=principal.user_id
            )
        if signoff.failure_action == "rework" and target is not None:
            # A rework of a rework still ends where the units first failed.
            until = max(step.position, execution.rework_until or 0)
            origin = execution.rework_of if execution.kind == "rework" else execution.id
            session.add(_rework(traveler, target, origin, until, signoff.qty_failed))
            await _mark(session, traveler, target, "in_progress", principal.user_id)

    record_changes(
        session,
        traveler,
        entity="step",
        entity_id=step.id,
        changes={
            "signoff": (
                None,
                {
                    "execution_id": str(execution.id),
                    "kind": execution.kind,
                    "passed": signoff.qty_passed,
                    "failed": signoff.qty_failed,
                    "by": str(principal.user_id),
                },
            )
        },
        actor_id=principal.user_id,
    )
    await session.flush()
    await _refresh_step_states(session, traveler, steps, principal.user_id)
    await events.step_completed(session, traveler, step, execution, actor_id=principal.user_id)
    if signoff.qty_failed and signoff.failure_action == "hold":
        await set_status(
            session,
            traveler,
            "on_hold",
            reason=f"{signoff.qty_failed} unit(s) failed at {step.name}",
            actor_id=principal.user_id,
        )
    await session.flush()
    return execution


def _rework(
    traveler: Traveler, step: TravelerStep, origin: uuid.UUID | None, until: int | None, quantity: int
) -> StepExecution:
    return StepExecution(
        company_id=traveler.company_id,
        traveler_id=traveler.id,
        step_id=step.id,
        kind="rework",
        rework_of=origin,
        rework_until=until,
        quantity=quantity,
        status="pending",
        **copied_facts(traveler, step),
    )


def copied_facts(traveler: Traveler, step: TravelerStep) -> dict[str, Any]:
    """The step's and traveler's facts an execution or labor log carries for the reports."""
    return {
        "step_name": step.name,
        "step_position": step.position,
        "standard_minutes": step.standard_minutes,
        "traveler_type": traveler.traveler_type,
    }


async def _execution_to_complete(
    session: AsyncSession, step: TravelerStep, execution_id: uuid.UUID | None
) -> StepExecution:
    if execution_id is not None:
        execution = await session.scalar(
            select(StepExecution).where(StepExecution.id == execution_id, StepExecution.step_id == step.id)
        )
        if execution is None:
            raise not_found("execution")
        if execution.status != "started":
            raise conflict(f"this execution is {execution.status}; only a started one can be signed off")
        return execution
    execution = await open_execution(session, step, "started")
    if execution is None:
        raise conflict(f"nothing is started at {step.name}: start the step first", slug="step-not-started")
    return execution


async def _check_serials(
    session: AsyncSession, traveler: Traveler, signoff: SignOff, errors: list[dict[str, str]]
) -> dict[str, SerialUnit]:
    if not signoff.serial_results:
        return {}
    units = {
        u.serial: u
        for u in await session.scalars(
            select(SerialUnit).where(
                SerialUnit.traveler_id == traveler.id, SerialUnit.serial.in_(list(signoff.serial_results))
            )
        )
    }
    unknown = [s for s in signoff.serial_results if s not in units]
    if unknown:
        errors.append(
            field_error("serial_results", f"unknown serial(s) on this traveler: {', '.join(unknown)}", "unknown")
        )
    passed = sum(1 for ok in signoff.serial_results.values() if ok)
    failed = len(signoff.serial_results) - passed
    if (passed, failed) != (signoff.qty_passed, signoff.qty_failed):
        errors.append(
            field_error(
                "serial_results",
                f"serial results say {passed} passed and {failed} failed; the counts say "
                f"{signoff.qty_passed} and {signoff.qty_failed}",
                "mismatch",
            )
        )
    return units


async def _mark(session: AsyncSession, traveler: Traveler, step: TravelerStep, status: str, actor: uuid.UUID) -> None:
    if step.status != status:
        record_changes(
            session,
            traveler,
            entity="step",
            entity_id=step.id,
            changes={"status": (step.status, status)},
            actor_id=actor,
        )
        step.status = status


async def _refresh_step_states(
    session: AsyncSession, traveler: Traveler, steps: list[TravelerStep], actor: uuid.UUID
) -> None:
    """A step is done once every unit has been through it the first time and no work is
    open there; the traveler's current step is the first that is not done."""
    rows = (
        await session.execute(
            select(
                StepExecution.step_id,
                func.sum(StepExecution.quantity).filter(StepExecution.kind == "first"),
                func.count().filter(StepExecution.status != "completed"),
            )
            .where(StepExecution.traveler_id == traveler.id)
            .group_by(StepExecution.step_id)
        )
    ).all()
    figures = {step_id: (int(first or 0), int(open_ or 0)) for step_id, first, open_ in rows}
    # Rework on its way back covers every step from where it is to where the units failed.
    in_flight = (
        await session.execute(
            select(TravelerStep.position, StepExecution.rework_until)
            .join(TravelerStep, TravelerStep.id == StepExecution.step_id)
            .where(
                StepExecution.traveler_id == traveler.id,
                StepExecution.kind == "rework",
                StepExecution.status != "completed",
            )
        )
    ).all()
    for step in steps:
        first, open_ = figures.get(step.id, (0, 0))
        open_ += sum(1 for at, until in in_flight if at <= step.position <= (until or at))
        if first >= traveler.quantity and open_ == 0:
            await _mark(session, traveler, step, "done", actor)
        elif first or open_:
            await _mark(session, traveler, step, "in_progress", actor)
    traveler.current_step = next((s.name for s in steps if s.status != "done"), None)


# --- serial units -----------------------------------------------------------------------


async def add_serials(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, serials: list[str]
) -> list[SerialUnit]:
    roles.require(principal, roles.TRAVELER_WRITE, "adding serial numbers")
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    if traveler.status in ("completed", "cancelled"):
        raise conflict(f"a {traveler.status} traveler takes no serials", slug="traveler-closed")
    if len(set(serials)) != len(serials):
        raise validation_failed([field_error("serials", "serial numbers repeat", "duplicate")])
    existing = await session.scalar(
        select(func.count()).select_from(SerialUnit).where(SerialUnit.traveler_id == traveler.id)
    )
    if (existing or 0) + len(serials) > traveler.quantity:
        raise validation_failed(
            [
                field_error(
                    "serials", f"the traveler has {traveler.quantity} unit(s) and {existing} serial(s)", "too_many"
                )
            ]
        )
    units = [SerialUnit(traveler_id=traveler.id, company_id=traveler.company_id, serial=s) for s in serials]
    session.add_all(units)
    try:
        await session.flush()
    except IntegrityError:
        raise conflict("a serial number is already on this traveler") from None
    return units


async def unit_route(
    session: AsyncSession, company_id: uuid.UUID, traveler_id: uuid.UUID, serial: str
) -> tuple[SerialUnit, list[tuple[UnitStepResult, TravelerStep, StepExecution]]]:
    """A unit's whole route (steps, operators, failures, rework), in one query."""
    traveler = await get_traveler(session, company_id, traveler_id)
    unit = await session.scalar(
        select(SerialUnit).where(SerialUnit.traveler_id == traveler.id, SerialUnit.serial == serial)
    )
    if unit is None:
        raise not_found("serial unit")
    rows = (
        await session.execute(
            select(UnitStepResult, TravelerStep, StepExecution)
            .join(TravelerStep, TravelerStep.id == UnitStepResult.step_id)
            .join(StepExecution, StepExecution.id == UnitStepResult.execution_id)
            .where(UnitStepResult.unit_id == unit.id)
            .order_by(UnitStepResult.recorded_at, TravelerStep.position)
        )
    ).all()
    return unit, [(r, s, e) for r, s, e in rows]
