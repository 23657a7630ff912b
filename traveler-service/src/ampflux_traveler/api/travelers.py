"""Traveler routes: create, list and search, read, edit, status changes, history, BOM, serials."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from ampflux_shared.pagination import paginate
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import bom, steps, travelers
from ..domain.common import get_traveler, steps_of
from ..models import Revision, SerialUnit, Traveler
from ..schemas import (
    BomLineCreate,
    BomLineRead,
    BomLineUpdate,
    BomSupplyUpdate,
    Page,
    RevisionRead,
    SerialRead,
    SerialsCreate,
    StepRead,
    SubstitutionCreate,
    SubstitutionRead,
    TransitionRequest,
    TravelerCreate,
    TravelerDetail,
    TravelerRead,
    TravelerStatus,
    TravelerType,
    TravelerUpdate,
    UnitRoute,
    UnitRouteEntry,
)
from .deps import MetricsDep, PageDep, SessionDep, after_commit

router = APIRouter(prefix="/travelers", tags=["travelers"], dependencies=[scoped("travelers")])


async def detail(session: SessionDep, traveler: Traveler) -> TravelerDetail:
    step_rows = await steps_of(session, traveler.id)
    return TravelerDetail.model_validate(
        {
            **TravelerRead.model_validate(traveler).model_dump(),
            "steps": [StepRead.model_validate(s) for s in step_rows],
            "allowed_transitions": list(travelers.TRANSITIONS[traveler.status]),
        }
    )


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create a traveler (copies its type's routing)")
async def create_traveler(
    body: TravelerCreate, principal: CurrentPrincipal, session: SessionDep, metrics: MetricsDep
) -> TravelerDetail:
    traveler = await travelers.create_traveler(
        session,
        principal,
        traveler_type=body.traveler_type.value,
        po_line_id=body.po_line_id,
        part_number=body.part_number,
        revision=body.revision,
        quantity=body.quantity,
        priority=body.priority,
        due_date=body.due_date,
    )
    after_commit(session, metrics.travelers_created.inc)
    return await detail(session, traveler)


@router.get("/", summary="Travelers by priority and due date, with filters and search")
async def list_travelers(
    principal: CurrentPrincipal,
    session: SessionDep,
    paging: PageDep,
    status: TravelerStatus | None = None,
    purchase_order_id: uuid.UUID | None = None,
    due_before: date | None = None,
    current_step: Annotated[str | None, Query(max_length=100)] = None,
    traveler_type: TravelerType | None = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the number or part number")] = None,
) -> Page[TravelerRead]:
    rows = await travelers.list_travelers(
        session,
        principal.company_id,
        paging=paging,
        status=status.value if status else None,
        purchase_order_id=purchase_order_id,
        due_before=due_before,
        current_step=current_step,
        traveler_type=traveler_type.value if traveler_type else None,
        search=q,
    )
    return Page(
        items=[TravelerRead.model_validate(t) for t in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.get("/{traveler_id}", summary="A traveler with its steps and the transitions open to it")
async def read_traveler(traveler_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> TravelerDetail:
    return await detail(session, await get_traveler(session, principal.company_id, traveler_id))


@router.patch("/{traveler_id}", summary="Edit a traveler (recorded in its history)")
async def update_traveler(
    traveler_id: uuid.UUID, body: TravelerUpdate, principal: CurrentPrincipal, session: SessionDep
) -> TravelerDetail:
    changes = body.model_dump(exclude_unset=True)
    traveler = await travelers.update_traveler(session, principal, traveler_id, changes)
    return await detail(session, traveler)


@router.post("/{traveler_id}/status", summary="Change the status (only the allowed transitions; 409 names them)")
async def change_status(
    traveler_id: uuid.UUID,
    body: TransitionRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    metrics: MetricsDep,
) -> TravelerDetail:
    traveler = await travelers.transition(session, principal, traveler_id, body.status.value, reason=body.reason)
    after_commit(session, metrics.transitions.labels(status=body.status.value).inc)
    return await detail(session, traveler)


@router.get("/{traveler_id}/history", summary="Every change to the traveler, its BOM and steps, oldest first")
async def history(
    traveler_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[RevisionRead]:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    query = select(Revision).where(Revision.traveler_id == traveler.id).order_by(Revision.changed_at, Revision.seq)
    rows = await paginate(session, query, paging)
    return Page(
        items=[RevisionRead.model_validate(r) for r in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


# --- BOM --------------------------------------------------------------------------------


def _bom_read(line: bom.BomLine, subs: list[bom.BomSubstitution]) -> BomLineRead:
    return BomLineRead.model_validate(line).model_copy(
        update={"substitutions": [SubstitutionRead.model_validate(s) for s in subs]}
    )


@router.get("/{traveler_id}/bom", summary="The bill of materials, by item")
async def list_bom(
    traveler_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[BomLineRead]:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    rows = await bom.lines_of(session, traveler.id, paging)
    return Page(
        items=[_bom_read(line, subs) for line, subs in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.post("/{traveler_id}/bom", status_code=status.HTTP_201_CREATED, summary="Add a BOM line")
async def add_bom_line(
    traveler_id: uuid.UUID, body: BomLineCreate, principal: CurrentPrincipal, session: SessionDep
) -> BomLineRead:
    return _bom_read(await bom.add_line(session, principal, traveler_id, body.model_dump()), [])


@router.patch("/{traveler_id}/bom/{line_id}", summary="Edit a BOM line")
async def update_bom_line(
    traveler_id: uuid.UUID, line_id: uuid.UUID, body: BomLineUpdate, principal: CurrentPrincipal, session: SessionDep
) -> BomLineRead:
    line = await bom.update_line(session, principal, traveler_id, line_id, body.model_dump(exclude_unset=True))
    return _bom_read(line, [])


@router.post("/{traveler_id}/bom/{line_id}/supply", summary="Purchasing: mark a line short or received, issue parts")
async def update_supply(
    traveler_id: uuid.UUID, line_id: uuid.UUID, body: BomSupplyUpdate, principal: CurrentPrincipal, session: SessionDep
) -> BomLineRead:
    line = await bom.update_supply(
        session, principal, traveler_id, line_id, status=body.status.value, issued=body.issued
    )
    return _bom_read(line, [])


@router.post(
    "/{traveler_id}/bom/{line_id}/substitutions",
    status_code=status.HTTP_201_CREATED,
    summary="Approve a substitute part for a line",
)
async def add_substitution(
    traveler_id: uuid.UUID,
    line_id: uuid.UUID,
    body: SubstitutionCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> SubstitutionRead:
    sub = await bom.add_substitution(session, principal, traveler_id, line_id, body.model_dump())
    return SubstitutionRead.model_validate(sub)


# --- serial units -----------------------------------------------------------------------


@router.post("/{traveler_id}/serials", status_code=status.HTTP_201_CREATED, summary="Give units serial numbers")
async def add_serials(
    traveler_id: uuid.UUID, body: SerialsCreate, principal: CurrentPrincipal, session: SessionDep
) -> list[SerialRead]:
    units = await steps.add_serials(session, principal, traveler_id, body.serials)
    return [SerialRead.model_validate(u) for u in units]


@router.get("/{traveler_id}/serials", summary="The traveler's serial units")
async def list_serials(
    traveler_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[SerialRead]:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    query = select(SerialUnit).where(SerialUnit.traveler_id == traveler.id).order_by(SerialUnit.serial)
    rows = await paginate(session, query, paging)
    return Page(
        items=[SerialRead.model_validate(u) for u in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.get("/{traveler_id}/serials/{serial}", summary="One unit's whole route: steps, operators, failures, rework")
async def unit_route(
    traveler_id: uuid.UUID,
    serial: Annotated[str, Path(max_length=64)],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> UnitRoute:
    unit, rows = await steps.unit_route(session, principal.company_id, traveler_id, serial)
    return UnitRoute(
        serial=unit.serial,
        status=unit.status,
        route=[
            UnitRouteEntry(
                step_position=step.position,
                step_name=step.name,
                execution_id=execution.id,
                kind=execution.kind,
                passed=result.passed,
                recorded_by=result.recorded_by,
                recorded_at=result.recorded_at,
            )
            for result, step, execution in rows
        ],
    )
