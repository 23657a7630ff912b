"""Compare two runs bus by bus: per (fault, case, bus) and quantity, b − a and (b − a)/|a|."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.pagination import PageParams

from ..models import StudyBusResult


@dataclass(frozen=True)
class QuantityDelta:
    a: float | str | None
    b: float | str | None
    delta: float | None
    relative: float | None


@dataclass(frozen=True)
class BusComparison:
    fault: str
    case: str
    bus_id: str
    in_a: bool
    in_b: bool
    quantities: dict[str, QuantityDelta]


def quantity_delta(a: Any, b: Any) -> QuantityDelta:
    numbers = isinstance(a, (int, float)) and isinstance(b, (int, float))
    if not numbers:
        return QuantityDelta(a, b, None, None)
    delta = float(b) - float(a)
    relative = delta / abs(float(a)) if a != 0 else None
    return QuantityDelta(a, b, delta, relative)


def compare_values(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, QuantityDelta]:
    a, b = a or {}, b or {}
    names = list(dict.fromkeys([*a, *b]))
    return {q: quantity_delta(a.get(q), b.get(q)) for q in names}


async def compare_runs(
    session: AsyncSession,
    run_a: uuid.UUID,
    run_b: uuid.UUID,
    *,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
    buses: Sequence[str] | None = None,
    paging: PageParams,
) -> tuple[list[BusComparison], int]:
    """One page of the union of both runs' (fault, case, bus) keys, ordered by them."""

    def keys_of(run_id: uuid.UUID):
        q = select(StudyBusResult.fault, StudyBusResult.case, StudyBusResult.bus_id).where(
            StudyBusResult.run_id == run_id
        )
        if faults:
            q = q.where(StudyBusResult.fault.in_(list(faults)))
        if cases:
            q = q.where(StudyBusResult.case.in_(list(cases)))
        if buses:
            q = q.where(StudyBusResult.bus_id.in_(list(buses)))
        return q

    keys = union(keys_of(run_a), keys_of(run_b)).subquery()
    total = int(await session.scalar(select(func.count()).select_from(keys)) or 0)
    page_keys = (
        await session.execute(
            select(keys.c.fault, keys.c.case, keys.c.bus_id)
            .order_by(keys.c.fault, keys.c.case, keys.c.bus_id)
            .offset(paging.offset)
            .limit(paging.page_size)
        )
    ).all()
    if not page_keys:
        return [], total
    wanted = {(k.fault, k.case, k.bus_id) for k in page_keys}
    bus_ids = sorted({k.bus_id for k in page_keys})
    rows = await session.execute(
        select(
            StudyBusResult.run_id,
            StudyBusResult.fault,
            StudyBusResult.case,
            StudyBusResult.bus_id,
            StudyBusResult.values,
        ).where(StudyBusResult.run_id.in_([run_a, run_b]), StudyBusResult.bus_id.in_(bus_ids))
    )
    found: dict[tuple[uuid.UUID, str, str, str], dict[str, Any]] = {}
    for row in rows.all():
        key = (row.fault, row.case, row.bus_id)
        if key in wanted:
            found[(row.run_id, *key)] = row.values
    out = []
    for k in page_keys:
        a = found.get((run_a, k.fault, k.case, k.bus_id))
        b = found.get((run_b, k.fault, k.case, k.bus_id))
        out.append(BusComparison(k.fault, k.case, k.bus_id, a is not None, b is not None, compare_values(a, b)))
    return out, total
