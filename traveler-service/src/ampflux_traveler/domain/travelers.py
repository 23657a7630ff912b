"""Travelers: numbering, creation from a template, edits with revision history, and the
status machine draft → released → in_progress ⇄ on_hold → completed, or cancelled."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import ProblemError, conflict, validation_failed
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from .. import events
from ..models import BomLine, StepExecution, Traveler, TravelerCounter, TravelerStep
from . import purchase_orders, roles, templates
from .common import get_traveler, record_changes, steps_of

# The only transitions there are; anything else is a 409 naming these.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("released", "cancelled"),
    "released": ("in_progress", "on_hold", "cancelled"),
    "in_progress": ("on_hold", "completed", "cancelled"),
    "on_hold": ("in_progress", "cancelled"),
    "completed": (),
    "cancelled": (),
}
# Who may move a traveler into each status.
TRANSITION_ROLES: dict[str, tuple[str, ...]] = {
    "released": roles.RELEASE,
    "in_progress": roles.RELEASE,
    "on_hold": roles.HOLD,
    "completed": roles.RELEASE,
    "cancelled": roles.RELEASE,
}
ACTIVE = ("released", "in_progress")  # work may happen on the floor


async def next_number(session: AsyncSession, company_id: uuid.UUID, year: int) -> str:
    """`T-YYYY-NNNNN`, counted per company and year by one atomic upsert (no two
    concurrent creations get the same number, on PostgreSQL or SQLite)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(TravelerCounter)
        .values(company_id=company_id, year=year, last=1)
        .on_conflict_do_update(
            index_elements=["company_id", "year"], set_={"last": TravelerCounter.__table__.c.last + 1}
        )
        .returning(TravelerCounter.__table__.c.last)
    )
    last = (await session.execute(stmt)).scalar_one()
    return f"T-{year}-{last:05d}"


async def create_traveler(
    session: AsyncSession,
    principal: Principal,
    *,
    traveler_type: str,
    po_line_id: uuid.UUID | None,
    part_number: str | None,
    revision: str | None,
    quantity: int | None,
    priority: int,
    due_date: date | None,
) -> Traveler:
    roles.require(principal, roles.TRAVELER_WRITE, "creating a traveler")
    po_id = None
    if po_line_id is not None:
        line = await purchase_orders.get_line(session, principal.company_id, po_line_id)
        po = await purchase_orders.get_purchase_order(session, principal.company_id, line.purchase_order_id)
        po_id = po.id
        part_number = part_number or line.part_number
        revision = line.revision if revision is None else revision
        quantity = quantity or line.quantity
        due_date = due_date or po.due_date
    missing = [f for f, v in (("part_number", part_number), ("quantity", quantity)) if v is None]
    if missing:
        raise validation_failed(
            [{"path": f, "code": "missing", "message": "required without a PO line"} for f in missing]
        )
    assert part_number is not None and quantity is not None
    now = utcnow()
    traveler = Traveler(
        company_id=principal.company_id,
        number=await next_number(session, principal.company_id, now.year),
        traveler_type=traveler_type,
        purchase_order_id=po_id,
        po_line_id=po_line_id,
        part_number=part_number,
        revision=revision or "",
        quantity=quantity,
        priority=priority,
        due_date=due_date,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(traveler)
    await session.flush()
    # A copy of the template: later template edits never rewrite this traveler's history.
    _, template_steps = await templates.template_for(session, principal.company_id, traveler_type)
    for ts in template_steps:
        session.add(
            TravelerStep(
                traveler_id=traveler.id,
                company_id=traveler.company_id,
                position=ts.position,
                name=ts.name,
                standard_minutes=ts.standard_minutes,
                signoff_role=ts.signoff_role,
            )
        )
    traveler.current_step = template_steps[0].name if template_steps else None
    await session.flush()
    return traveler


async def list_travelers(
    session: AsyncSession,
    company_id: uuid.UUID,
    *,
    paging: PageParams,
    status: str | None = None,
    purchase_order_id: uuid.UUID | None = None,
    due_before: date | None = None,
    current_step: str | None = None,
    traveler_type: str | None = None,
    search: str | None = None,
) -> Rows[Traveler]:
    query = select(Traveler).where(Traveler.company_id == company_id)
    if status:
        query = query.where(Traveler.status == status)
    if purchase_order_id:
        query = query.where(Traveler.purchase_order_id == purchase_order_id)
    if due_before:
        query = query.where(Traveler.due_date < due_before)
    if current_step:
        query = query.where(func.lower(Traveler.current_step) == current_step.lower())
    if traveler_type:
        query = query.where(Traveler.traveler_type == traveler_type)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(func.lower(Traveler.number).like(pattern), func.lower(Traveler.part_number).like(pattern))
        )
    query = query.order_by(Traveler.priority, Traveler.due_date.is_(None), Traveler.due_date, Traveler.number)
    return await paginate(session, query, paging)


EDITABLE = ("part_number", "revision", "quantity", "priority", "due_date")


async def update_traveler(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, changes: dict[str, Any]
) -> Traveler:
    roles.require(principal, roles.TRAVELER_WRITE, "editing a traveler")
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    if traveler.status in ("completed", "cancelled"):
        raise conflict(f"a {traveler.status} traveler cannot be edited", slug="traveler-closed")
    if traveler.status != "draft" and any(k in changes for k in ("part_number", "revision", "quantity")):
        raise conflict(
            "part, revision and quantity can change only while the traveler is a draft", slug="traveler-released"
        )
    diff = {k: (getattr(traveler, k), v) for k, v in changes.items() if k in EDITABLE}
    record_changes(
        session, traveler, entity="traveler", entity_id=traveler.id, changes=diff, actor_id=principal.user_id
    )
    for key, (_, after) in diff.items():
        setattr(traveler, key, after)
    if "quantity" in diff:  # required quantities follow the traveler's
        for line in await session.scalars(select(BomLine).where(BomLine.traveler_id == traveler.id)):
            line.required = line.quantity_per_unit * traveler.quantity
    traveler.updated_at = utcnow()
    await session.flush()
    return traveler


def illegal_transition(traveler: Traveler, wanted: str) -> ProblemError:
    allowed = list(TRANSITIONS[traveler.status])
    return conflict(
        f"a {traveler.status} traveler cannot become {wanted}; allowed: {', '.join(allowed) or 'none'}",
        slug="illegal-transition",
        current_status=traveler.status,
        allowed_transitions=allowed,
    )


async def transition(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, wanted: str, *, reason: str = ""
) -> Traveler:
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    if wanted not in TRANSITIONS[traveler.status]:
        raise illegal_transition(traveler, wanted)
    roles.require(principal, TRANSITION_ROLES[wanted], f"moving a traveler to {wanted}")
    if wanted == "released":
        await _check_releasable(session, traveler)
    if wanted == "completed":
        await _check_completable(session, traveler)
    await set_status(session, traveler, wanted, reason=reason, actor_id=principal.user_id)
    return traveler


async def set_status(
    session: AsyncSession, traveler: Traveler, wanted: str, *, reason: str, actor_id: uuid.UUID | None
) -> None:
    """Move the traveler (the caller checked the transition is allowed), with its history
    row, its event and its PO's status."""
    before = traveler.status
    now = utcnow()
    traveler.status = wanted
    traveler.updated_at = now
    record_changes(
        session,
        traveler,
        entity="traveler",
        entity_id=traveler.id,
        changes={"status": (before, wanted)},
        actor_id=actor_id,
    )
    if wanted == "released":
        traveler.released_at = now
        await events.traveler_released(session, traveler, actor_id=actor_id)
    elif wanted == "on_hold":
        traveler.hold_reason = reason or "on hold"
        await events.traveler_on_hold(session, traveler, traveler.hold_reason, actor_id=actor_id)
    elif wanted == "completed":
        traveler.completed_at = now
        traveler.current_step = None
        await events.traveler_completed(session, traveler, actor_id=actor_id)
    if wanted != "on_hold":
        traveler.hold_reason = None
    await purchase_orders.refresh_status(session, traveler.purchase_order_id)


async def _check_releasable(session: AsyncSession, traveler: Traveler) -> None:
    short = list(
        await session.scalars(
            select(BomLine).where(BomLine.traveler_id == traveler.id, BomLine.status == "short").order_by(BomLine.item)
        )
    )
    if short:
        raise conflict(
            f"{len(short)} BOM line(s) are short: {', '.join(line.item for line in short)}",
            slug="bom-short",
            short_lines=[{"id": str(line.id), "item": line.item} for line in short],
        )
    if not await session.scalar(select(exists().where(TravelerStep.traveler_id == traveler.id))):
        raise conflict("a traveler without steps cannot be released", slug="no-steps")


async def _check_completable(session: AsyncSession, traveler: Traveler) -> None:
    open_steps = [s.name for s in await steps_of(session, traveler.id) if s.status != "done"]
    open_work = await session.scalar(
        select(func.count())
        .select_from(StepExecution)
        .where(StepExecution.traveler_id == traveler.id, StepExecution.status != "completed")
    )
    if open_steps or open_work:
        raise conflict(
            f"steps not done: {', '.join(open_steps) or 'none'}; open executions: {open_work}",
            slug="traveler-unfinished",
            open_steps=open_steps,
        )
