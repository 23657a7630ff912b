"""The bill of materials of a traveler: lines, supply status, substitutions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import conflict, not_found
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from ..models import BomLine, BomSubstitution, Traveler
from . import roles
from .common import get_traveler, record_changes


def _writable(traveler: Traveler) -> None:
    if traveler.status in ("completed", "cancelled"):
        raise conflict(f"the BOM of a {traveler.status} traveler cannot change", slug="traveler-closed")


async def get_line(session: AsyncSession, traveler: Traveler, line_id: uuid.UUID) -> BomLine:
    line = await session.scalar(select(BomLine).where(BomLine.id == line_id, BomLine.traveler_id == traveler.id))
    if line is None:
        raise not_found("BOM line")
    return line


async def lines_of(
    session: AsyncSession, traveler_id: uuid.UUID, paging: PageParams | None = None
) -> Rows[tuple[BomLine, list[BomSubstitution]]]:
    """The traveler's BOM lines by item (one page, or all for the printed sheet), each with
    its substitutions."""
    query = select(BomLine).where(BomLine.traveler_id == traveler_id).order_by(BomLine.item, BomLine.id)
    if paging is None:
        found = list(await session.scalars(query))
        rows: Rows[BomLine] = Rows(items=found, total=len(found), page=1, page_size=max(len(found), 1))
    else:
        rows = await paginate(session, query, paging)
    subs: dict[uuid.UUID, list[BomSubstitution]] = {line.id: [] for line in rows.items}
    if subs:
        for sub in await session.scalars(
            select(BomSubstitution)
            .where(BomSubstitution.bom_line_id.in_(list(subs)))
            .order_by(BomSubstitution.approved_at)
        ):
            subs[sub.bom_line_id].append(sub)
    return Rows(
        items=[(line, subs[line.id]) for line in rows.items], total=rows.total, page=rows.page, page_size=rows.page_size
    )


async def add_line(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, data: dict[str, Any]
) -> BomLine:
    roles.require(principal, roles.TRAVELER_WRITE, "adding a BOM line")
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    _writable(traveler)
    line = BomLine(
        traveler_id=traveler.id,
        company_id=traveler.company_id,
        required=data["quantity_per_unit"] * traveler.quantity,
        **data,
    )
    session.add(line)
    await session.flush()
    record_changes(
        session,
        traveler,
        entity="bom_line",
        entity_id=line.id,
        changes={"item": (None, line.item)},
        actor_id=principal.user_id,
    )
    return line


async def update_line(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, line_id: uuid.UUID, changes: dict[str, Any]
) -> BomLine:
    roles.require(principal, roles.TRAVELER_WRITE, "editing a BOM line")
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    _writable(traveler)
    line = await get_line(session, traveler, line_id)
    diff = {k: (getattr(line, k), v) for k, v in changes.items()}
    if "quantity_per_unit" in changes:
        diff["required"] = (line.required, changes["quantity_per_unit"] * traveler.quantity)
    record_changes(session, traveler, entity="bom_line", entity_id=line.id, changes=diff, actor_id=principal.user_id)
    for key, (_, after) in diff.items():
        setattr(line, key, after)
    await session.flush()
    return line


async def update_supply(
    session: AsyncSession,
    principal: Principal,
    traveler_id: uuid.UUID,
    line_id: uuid.UUID,
    *,
    status: str,
    issued: float | None,
) -> BomLine:
    roles.require(principal, roles.BOM_SUPPLY, "marking BOM supply")
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    _writable(traveler)
    line = await get_line(session, traveler, line_id)
    diff: dict[str, tuple[Any, Any]] = {"status": (line.status, status)}
    if issued is not None:
        diff["issued"] = (line.issued, issued)
    record_changes(session, traveler, entity="bom_line", entity_id=line.id, changes=diff, actor_id=principal.user_id)
    for key, (_, after) in diff.items():
        setattr(line, key, after)
    await session.flush()
    return line


async def add_substitution(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, line_id: uuid.UUID, data: dict[str, Any]
) -> BomSubstitution:
    roles.require(principal, roles.SUBSTITUTE, "approving a substitution")
    traveler = await get_traveler(session, principal.company_id, traveler_id, lock=True)
    _writable(traveler)
    line = await get_line(session, traveler, line_id)
    sub = BomSubstitution(bom_line_id=line.id, company_id=traveler.company_id, approved_by=principal.user_id, **data)
    session.add(sub)
    record_changes(
        session,
        traveler,
        entity="bom_line",
        entity_id=line.id,
        changes={"substitution": (None, data["substitute_item"])},
        actor_id=principal.user_id,
    )
    await session.flush()
    return sub
