"""Purchase orders and their lines; a PO's status follows its travelers."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import conflict, not_found
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from ..models import PurchaseOrder, PurchaseOrderLine, Traveler
from . import roles


async def create_purchase_order(
    session: AsyncSession,
    principal: Principal,
    *,
    number: str,
    customer: str,
    due_date: date | None,
    lines: list[tuple[str, str, int]],
) -> PurchaseOrder:
    roles.require(principal, roles.PO_WRITE, "creating a purchase order")
    po = PurchaseOrder(
        company_id=principal.company_id,
        number=number,
        customer=customer,
        due_date=due_date,
        created_by=principal.user_id,
    )
    session.add(po)
    try:
        await session.flush()
    except IntegrityError:
        raise conflict(f"purchase order {number!r} already exists in this company") from None
    for line_no, (part_number, revision, quantity) in enumerate(lines, start=1):
        session.add(
            PurchaseOrderLine(
                purchase_order_id=po.id,
                company_id=po.company_id,
                line_no=line_no,
                part_number=part_number,
                revision=revision,
                quantity=quantity,
            )
        )
    await session.flush()
    return po


async def get_purchase_order(session: AsyncSession, company_id: uuid.UUID, po_id: uuid.UUID) -> PurchaseOrder:
    po = await session.scalar(
        select(PurchaseOrder).where(PurchaseOrder.id == po_id, PurchaseOrder.company_id == company_id)
    )
    if po is None:
        raise not_found("purchase order")
    return po


async def lines_of(session: AsyncSession, po_id: uuid.UUID) -> list[PurchaseOrderLine]:
    rows = await session.scalars(
        select(PurchaseOrderLine)
        .where(PurchaseOrderLine.purchase_order_id == po_id)
        .order_by(PurchaseOrderLine.line_no)
    )
    return list(rows)


async def get_line(session: AsyncSession, company_id: uuid.UUID, line_id: uuid.UUID) -> PurchaseOrderLine:
    line = await session.scalar(
        select(PurchaseOrderLine).where(PurchaseOrderLine.id == line_id, PurchaseOrderLine.company_id == company_id)
    )
    if line is None:
        raise not_found("purchase order line")
    return line


async def list_purchase_orders(
    session: AsyncSession, company_id: uuid.UUID, *, paging: PageParams, status: str | None, search: str | None
) -> Rows[PurchaseOrder]:
    query = select(PurchaseOrder).where(PurchaseOrder.company_id == company_id)
    if status:
        query = query.where(PurchaseOrder.status == status)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            func.lower(PurchaseOrder.number).like(pattern) | func.lower(PurchaseOrder.customer).like(pattern)
        )
    return await paginate(session, query.order_by(PurchaseOrder.created_at.desc(), PurchaseOrder.id), paging)


async def refresh_status(session: AsyncSession, po_id: uuid.UUID | None) -> None:
    """Derive the PO's status from its travelers: `open` until one is released, then
    `in_progress`; `completed` once every traveler is completed or cancelled (and one
    completed); `cancelled` if all were cancelled."""
    if po_id is None:
        return
    await session.flush()
    counts = dict(
        (
            await session.execute(
                select(Traveler.status, func.count())
                .where(Traveler.purchase_order_id == po_id)
                .group_by(Traveler.status)
            )
        ).all()
    )
    po = await session.get(PurchaseOrder, po_id)
    if po is None:
        return
    total = sum(counts.values())
    finished = counts.get("completed", 0) + counts.get("cancelled", 0)
    if total == 0 or total == counts.get("draft", 0):
        po.status = "open"
    elif total == counts.get("cancelled", 0):
        po.status = "cancelled"
    elif finished == total:
        po.status = "completed"
    else:
        po.status = "in_progress"
