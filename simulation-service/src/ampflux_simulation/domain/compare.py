"""Compare two runs bus by bus: per (fault, case, bus) and quantity, b − a and (b − a)/|a|."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.pagination import PageParams

from . import results
from .results import DecodedSets


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
    decoded: DecodedSets,
    run_a: uuid.UUID,
    run_b: uuid.UUID,
    *,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
    buses: Sequence[str] | None = None,
    paging: PageParams,
) -> tuple[list[BusComparison], int]:
    """One page of the union of both runs' (fault, case, bus) keys, ordered by them
    (code point order, as PostgreSQL's C collation and SQLite order text)."""

    async def values_of(run_id: uuid.UUID) -> dict[tuple[str, str, str], dict[str, Any]]:
        found: dict[tuple[str, str, str], dict[str, Any]] = {}
        for rs in await results.result_sets(session, run_id, faults=faults, cases=cases):
            table = await decoded.table(session, rs)
            positions = table.positions_of(buses) if buses else range(len(table))
            for i in positions:
                found[(rs.fault, rs.case, table.ids[i])] = table.values[i]
        return found

    a_values, b_values = await values_of(run_a), await values_of(run_b)
    keys = sorted(a_values.keys() | b_values.keys())
    page_keys = keys[paging.offset : paging.offset + paging.page_size]
    out = []
    for key in page_keys:
        a, b = a_values.get(key), b_values.get(key)
        out.append(BusComparison(*key, a is not None, b is not None, compare_values(a, b)))
    return out, len(keys)
