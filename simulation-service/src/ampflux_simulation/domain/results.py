"""Storing a run's result sets and reading them back: pages, filters, full result sets.

A result set is one row whose buses are one compressed document (`packed.py`). Reads decode
the sets they need, in memory, through `DecodedSets`, which keeps recently decoded sets per
process so that paging through a big set does not decode it for every page.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.pagination import PageParams, Rows

from ..models import StudyResultSet
from .packed import BusTable, PackedSet, unpack_buses

# How long a decoded set stays in memory without being read.
DECODED_TTL_S = 600.0


@dataclass(frozen=True, slots=True)
class BusRow:
    """One bus of one result set: a page item, a download row."""

    fault: str
    case: str
    bus_id: str
    bus_index: int
    values: dict[str, Any]
    trail: Any


async def store_results(session: AsyncSession, run_id: uuid.UUID, packed_sets: Sequence[PackedSet]) -> int:
    """Write every result set of a run, one row per set in one INSERT; the number of buses
    over all sets.

    Sets a previous attempt left are replaced, so the rows always belong to exactly one
    solve (the caller holds the run's row lock and commits with the status change).
    """
    await session.execute(delete(StudyResultSet).where(StudyResultSet.run_id == run_id))
    rows = [
        {
            "run_id": run_id,
            "fault": ps.fault,
            "case": ps.case,
            "position": position,
            "quantities": ps.quantities,
            "extra": ps.extra,
            "bus_count": ps.bus_count,
            "buses_z": ps.buses_z,
        }
        for position, ps in enumerate(packed_sets)
    ]
    if rows:
        await session.execute(insert(StudyResultSet), rows)
    return sum(ps.bus_count for ps in packed_sets)


async def result_sets(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
) -> list[StudyResultSet]:
    """The run's result sets in solve order (without their buses), only these faults and cases
    when given."""
    query = select(StudyResultSet).where(StudyResultSet.run_id == run_id)
    if faults:
        query = query.where(StudyResultSet.fault.in_(list(faults)))
    if cases:
        query = query.where(StudyResultSet.case.in_(list(cases)))
    return list(await session.scalars(query.order_by(StudyResultSet.position)))


class DecodedSets:
    """Decoded result sets of this process, by (run, fault, case), weighted by their buses.

    A set is only read once its run has succeeded, and never changes after that, so an
    entry is never stale; it leaves when `max_buses` is reached (least recently used first)
    or after DECODED_TTL_S unread. A set larger than `max_buses` is decoded for each read.
    A 3,000-bus set with trails is ~4 MB decoded.
    """

    def __init__(self, max_buses: int, ttl_s: float = DECODED_TTL_S) -> None:
        self._cache: TTLCache[tuple[uuid.UUID, str, str], BusTable] | None = (
            TTLCache(maxsize=max_buses, ttl=ttl_s, timer=time.monotonic, getsizeof=len) if max_buses > 0 else None
        )

    async def table(self, session: AsyncSession, rs: StudyResultSet) -> BusTable:
        key = (rs.run_id, rs.fault, rs.case)
        if self._cache is not None and (found := self._cache.get(key)) is not None:
            return found
        blob = await session.scalar(
            select(StudyResultSet.buses_z).where(
                StudyResultSet.run_id == rs.run_id, StudyResultSet.fault == rs.fault, StudyResultSet.case == rs.case
            )
        )
        if blob is None:
            raise LookupError(f"result set {rs.fault}/{rs.case} of run {rs.run_id} is gone")
        table = await asyncio.to_thread(unpack_buses, blob)
        if self._cache is not None and len(table) <= self._cache.maxsize:
            self._cache[key] = table
        return table

    def __len__(self) -> int:
        return 0 if self._cache is None else len(self._cache)


def _rows(rs: StudyResultSet, table: BusTable, positions: Sequence[int]) -> Iterator[BusRow]:
    for i in positions:
        yield BusRow(rs.fault, rs.case, table.ids[i], table.index[i], table.values[i], table.trail_at(i))


async def bus_results_page(
    session: AsyncSession,
    decoded: DecodedSets,
    sets: Sequence[StudyResultSet],
    *,
    buses: Sequence[str] | None = None,
    paging: PageParams,
) -> Rows[BusRow]:
    """One page of the sets' buses in set order, then document order (the sets already
    filtered by fault and case). Without a bus filter only the sets the page falls in are
    decoded: the total is the sum of the sets' bus counts."""
    items: list[BusRow] = []
    skip, wanted, total = paging.offset, paging.page_size, 0
    for rs in sets:
        if buses:
            table = await decoded.table(session, rs)
            positions: Sequence[int] = table.positions_of(buses)
            count = len(positions)
        else:
            table, count = None, rs.bus_count
            positions = range(count)
        total += count
        if skip >= count or len(items) >= wanted:
            skip = max(skip - count, 0)
            continue
        if table is None:
            table = await decoded.table(session, rs)
        take = positions[skip : skip + wanted - len(items)]
        items.extend(_rows(rs, table, take))
        skip = 0
    return Rows(items=items, total=total, page=paging.page, page_size=paging.page_size)


async def iter_bus_results(
    session: AsyncSession, decoded: DecodedSets, sets: Sequence[StudyResultSet], *, buses: Sequence[str] | None = None
) -> AsyncIterator[BusRow]:
    """Every matching bus in page order, a set at a time (downloads)."""
    for rs in sets:
        table = await decoded.table(session, rs)
        positions = table.positions_of(buses) if buses else range(len(table))
        for row in _rows(rs, table, positions):
            yield row


def set_read(rs: StudyResultSet) -> dict[str, Any]:
    return {"fault": rs.fault, "case": rs.case, "quantities": rs.quantities, **(rs.extra or {})}
