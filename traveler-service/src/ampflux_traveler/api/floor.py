"""Shop-floor routes: start and sign off steps, labor clock in/out, coating, the scan station."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from ampflux_shared.errors import ProblemError, field_error, validation_failed
from ampflux_shared.pagination import paginate
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import coating, labor, scan, steps
from ..domain.common import get_traveler
from ..models import CoatingLog, StepExecution
from ..schemas import (
    ClockOut,
    CoatingLogCreate,
    CoatingLogRead,
    ExecutionRead,
    LaborLogRead,
    Page,
    ScanRequest,
    ScanResult,
    StepComplete,
    StepRead,
    StepStart,
    TravelerRead,
)
from .deps import MetricsDep, PageDep, SessionDep, after_commit

# Registered before the traveler router: `/travelers/scan` and `/travelers/labor` are not ids.
router = APIRouter(prefix="/travelers", tags=["shop floor"], dependencies=[scoped("travelers")])


@router.post("/scan", summary="Station workflow: a scanned code does the natural next thing (or says why not)")
async def scan_code(
    body: ScanRequest, principal: CurrentPrincipal, session: SessionDep, metrics: MetricsDep
) -> ScanResult:
    signoff = None
    if body.qty_passed is not None:
        signoff = _signoff(
            StepComplete.model_validate(
                body.model_dump(include={"qty_passed", "qty_failed", "notes", "failure_action", "rework_to_position"})
            )
        )
    outcome = await scan.scan(session, principal, body.code, signoff)
    if outcome.execution is not None and outcome.action == "completed":
        _count_signoff(session, metrics, outcome.execution)
    return ScanResult(
        action=outcome.action,
        detail=outcome.detail,
        traveler=TravelerRead.model_validate(outcome.traveler),
        step=StepRead.model_validate(outcome.step) if outcome.step else None,
        labor_log=LaborLogRead.model_validate(outcome.labor_log) if outcome.labor_log else None,
        execution=ExecutionRead.model_validate(outcome.execution) if outcome.execution else None,
    )


@router.post("/labor/clock-out", summary="Close my open labor log (managers: someone else's)")
async def clock_out(body: ClockOut, principal: CurrentPrincipal, session: SessionDep) -> LaborLogRead:
    return LaborLogRead.model_validate(await labor.clock_out(session, principal, body.operator_id))


@router.get("/labor/logs", summary="Labor logs of the company, newest first")
async def list_labor(
    principal: CurrentPrincipal,
    session: SessionDep,
    paging: PageDep,
    traveler_id: uuid.UUID | None = None,
    operator_id: uuid.UUID | None = None,
    open_only: Annotated[bool, Query(description="only logs not clocked out")] = False,
) -> Page[LaborLogRead]:
    rows = await labor.list_logs(
        session,
        principal.company_id,
        paging=paging,
        traveler_id=traveler_id,
        operator_id=operator_id,
        open_only=open_only,
    )
    return Page(
        items=[LaborLogRead.model_validate(r) for r in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.post(
    "/{traveler_id}/steps/{step_id}/start",
    status_code=status.HTTP_201_CREATED,
    summary="Start a step (rework waiting there first, else the units not yet through it)",
)
async def start_step(
    traveler_id: uuid.UUID,
    step_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    body: StepStart | None = None,
) -> ExecutionRead:
    execution = await steps.start_step(session, principal, traveler_id, step_id, body.quantity if body else None)
    return ExecutionRead.model_validate(execution)


@router.post(
    "/{traveler_id}/steps/{step_id}/complete",
    summary="Sign off a started execution: passed, failed (hold or rework), notes, per-serial results",
)
async def complete_step(
    traveler_id: uuid.UUID,
    step_id: uuid.UUID,
    body: StepComplete,
    principal: CurrentPrincipal,
    session: SessionDep,
    metrics: MetricsDep,
) -> ExecutionRead:
    execution = await steps.complete_step(session, principal, traveler_id, step_id, _signoff(body))
    _count_signoff(session, metrics, execution)
    return ExecutionRead.model_validate(execution)


@router.get("/{traveler_id}/executions", summary="Every step execution of the traveler, in order")
async def list_executions(
    traveler_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[ExecutionRead]:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    query = (
        select(StepExecution)
        .where(StepExecution.traveler_id == traveler.id)
        .order_by(StepExecution.created_at, StepExecution.id)
    )
    rows = await paginate(session, query, paging)
    return Page(
        items=[ExecutionRead.model_validate(e) for e in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.post(
    "/{traveler_id}/steps/{step_id}/clock-in",
    status_code=status.HTTP_201_CREATED,
    summary="Clock in on a step (409 if already clocked in anywhere)",
)
async def clock_in(
    traveler_id: uuid.UUID, step_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, metrics: MetricsDep
) -> LaborLogRead:
    try:
        log = await labor.clock_in_step(session, principal, traveler_id, step_id)
    except ProblemError as exc:
        if exc.slug == "already-clocked-in":
            metrics.clock_ins_refused.inc()
        raise
    return LaborLogRead.model_validate(log)


@router.post("/{traveler_id}/coating", status_code=status.HTTP_201_CREATED, summary="Log a coating with its readings")
async def log_coating(
    traveler_id: uuid.UUID, body: CoatingLogCreate, principal: CurrentPrincipal, session: SessionDep
) -> CoatingLogRead:
    return CoatingLogRead.model_validate(await coating.log_coating(session, principal, traveler_id, body.model_dump()))


@router.get("/{traveler_id}/coating", summary="The traveler's coating logs, oldest first")
async def list_coating(
    traveler_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[CoatingLogRead]:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    query = (
        select(CoatingLog).where(CoatingLog.traveler_id == traveler.id).order_by(CoatingLog.recorded_at, CoatingLog.id)
    )
    rows = await paginate(session, query, paging)
    return Page(
        items=[CoatingLogRead.model_validate(c) for c in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


def _signoff(body: StepComplete) -> steps.SignOff:
    return steps.SignOff(
        qty_passed=body.qty_passed,
        qty_failed=body.qty_failed,
        notes=body.notes,
        failure_action=body.failure_action.value if body.failure_action else None,
        rework_to_position=body.rework_to_position,
        execution_id=body.execution_id,
        serial_results=_serials(body),
    )


def _serials(body: StepComplete) -> dict[str, bool]:
    results: dict[str, bool] = {}
    for r in body.serial_results:
        if r.serial in results:
            raise validation_failed([field_error("serial_results", f"serial {r.serial} is given twice", "duplicate")])
        results[r.serial] = r.passed
    return results


def _count_signoff(session: SessionDep, metrics: MetricsDep, execution: StepExecution) -> None:
    after_commit(session, metrics.steps_completed.inc)
    if execution.qty_failed:
        failed = execution.qty_failed
        after_commit(session, lambda: metrics.units_failed.inc(failed))
