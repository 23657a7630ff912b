"""Look-ups every domain module uses: rows of the caller's company, or 404."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import not_found

from ..models import Revision, Traveler, TravelerStep


async def get_traveler(
    session: AsyncSession, company_id: uuid.UUID, traveler_id: uuid.UUID, *, lock: bool = False
) -> Traveler:
    """The traveler if it belongs to the company; another company's id is a 404 like a missing one.

    `lock` takes a row lock (PostgreSQL) so concurrent changes of one traveler serialise."""
    query = select(Traveler).where(Traveler.id == traveler_id, Traveler.company_id == company_id)
    if lock:
        query = query.with_for_update()
    traveler = await session.scalar(query)
    if traveler is None:
        raise not_found("traveler")
    return traveler


async def get_step(session: AsyncSession, traveler: Traveler, step_id: uuid.UUID) -> TravelerStep:
    step = await session.scalar(
        select(TravelerStep).where(TravelerStep.id == step_id, TravelerStep.traveler_id == traveler.id)
    )
    if step is None:
        raise not_found("step")
    return step


async def steps_of(session: AsyncSession, traveler_id: uuid.UUID) -> list[TravelerStep]:
    rows = await session.scalars(
        select(TravelerStep).where(TravelerStep.traveler_id == traveler_id).order_by(TravelerStep.position)
    )
    return list(rows)


def record_changes(
    session: AsyncSession,
    traveler: Traveler,
    *,
    entity: str,
    entity_id: uuid.UUID,
    changes: dict[str, tuple[Any, Any]],
    actor_id: uuid.UUID | None,
) -> None:
    """One revision row per changed field (fields whose value did not change are skipped)."""
    for seq, (field, (before, after)) in enumerate(changes.items()):
        if before == after:
            continue
        session.add(
            Revision(
                company_id=traveler.company_id,
                traveler_id=traveler.id,
                entity=entity,
                entity_id=entity_id,
                field=field,
                before=_jsonable(before),
                after=_jsonable(after),
                changed_by=actor_id,
                seq=seq,
            )
        )


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
