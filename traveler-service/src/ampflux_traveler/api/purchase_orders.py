"""Purchase-order routes: create, list, read (with lines and the status its travelers give it)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import purchase_orders as service
from ..models import PurchaseOrder
from ..schemas import Page, PurchaseOrderCreate, PurchaseOrderLineRead, PurchaseOrderRead
from .deps import PageDep, SessionDep

router = APIRouter(prefix="/purchase-orders", tags=["purchase orders"], dependencies=[scoped("travelers")])


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create a purchase order with its lines")
async def create_purchase_order(
    body: PurchaseOrderCreate, principal: CurrentPrincipal, session: SessionDep
) -> PurchaseOrderRead:
    po = await service.create_purchase_order(
        session,
        principal,
        number=body.number,
        customer=body.customer,
        due_date=body.due_date,
        lines=[(line.part_number, line.revision, line.quantity) for line in body.lines],
    )
    return await _read(session, po)


@router.get("/", summary="Purchase orders of the company, newest first")
async def list_purchase_orders(
    principal: CurrentPrincipal,
    session: SessionDep,
    paging: PageDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the number or customer")] = None,
) -> Page[PurchaseOrderRead]:
    rows = await service.list_purchase_orders(session, principal.company_id, paging=paging, status=status, search=q)
    return Page(
        items=[PurchaseOrderRead.model_validate(po) for po in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.get("/{po_id}", summary="A purchase order with its lines")
async def read_purchase_order(po_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> PurchaseOrderRead:
    return await _read(session, await service.get_purchase_order(session, principal.company_id, po_id))


async def _read(session: SessionDep, po: PurchaseOrder) -> PurchaseOrderRead:
    lines = await service.lines_of(session, po.id)
    return PurchaseOrderRead.model_validate(po).model_copy(
        update={"lines": [PurchaseOrderLineRead.model_validate(line) for line in lines]}
    )
