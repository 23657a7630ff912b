"""Storing a run's result sets and reading them back: pages, filters, full result sets."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.circuit import json_safe
from ampflux_shared.pagination import PageParams, Rows

from ..models import StudyBusResult, StudyResultSet

# Rows per INSERT statement: big enough to be quick, small enough for any driver's limits.
INSERT_BATCH = 2000
SET_KEYS = ("fault", "case", "quantities", "buses", "trail")


async def store_results(
    session: AsyncSession, run_id: uuid.UUID, result_sets: Sequence[Mapping[str, Any]], bus_order: Mapping[str, int]
) -> int:
    """Write every result set of a run; the number of bus rows written.

    Any rows a previous attempt left are replaced, so the rows always belong to exactly
    one solve (the caller holds the run's row lock and commits with the status change).
    """
    await session.execute(delete(StudyBusResult).where(StudyBusResult.run_id == run_id))
    await session.execute(delete(StudyResultSet).where(StudyResultSet.run_id == run_id))
    set_rows = [
        {
            "run_id": run_id,
            "fault": rs["fault"],
            "case": rs["case"],
            "position": position,
            "quantities": list(rs["quantities"]),
            "extra": json_safe({k: v for k, v in rs.items() if k not in SET_KEYS}),
        }
        for position, rs in enumerate(result_sets)
    ]
    if set_rows:
        await session.execute(insert(StudyResultSet), set_rows)
    if session.get_bind().dialect.name == "postgresql":
        return await _copy_bus_rows(session, run_id, result_sets, bus_order)
    bus_rows = [
        {
            "run_id": run_id,
            "fault": fault,
            "case": case,
            "bus_index": bus_order[bus_id],
            "bus_id": bus_id,
            "values": json_safe(values),
            "trail": json_safe(trail) if trail is not None else None,
        }
        for fault, case, bus_id, values, trail in _bus_rows(result_sets)
    ]
    for start in range(0, len(bus_rows), INSERT_BATCH):
        await session.execute(insert(StudyBusResult), bus_rows[start : start + INSERT_BATCH])
    return len(bus_rows)


def _bus_rows(result_sets: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str, str, Any, Any]]:
    """(fault, case, bus id, values, trail or None) of every bus of every result set."""
    for rs in result_sets:
        trail = rs.get("trail") or {}
        for bus_id, values in rs["buses"].items():
            yield rs["fault"], rs["case"], bus_id, values, trail.get(bus_id)


_COPY_COLUMNS = ("run_id", "fault", "case", "bus_index", "bus_id", "values", "trail")
# COPY's text format: a backslash escapes, tab separates columns, newline ends a row (bus ids).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# COPY text sent per write: bounds the memory of a 20k-bus run (160k rows).
COPY_CHUNK_ROWS = 5000


_encode_json = msgspec.json.Encoder().encode


def _json_text(value: Any) -> str:
    """JSON text for a jsonb column, escaped for COPY's text format.

    msgspec's encoder takes a tenth of the json module's time on these many small objects
    (they were the largest share of storing a run). It writes NaN and infinities as null, so a
    text with a null in it (rare: solver rows hold neither None nor non-finite numbers) is
    made again the old way, with `json_safe`'s spelling; so is anything msgspec cannot encode.
    JSON text has no raw tab or newline, so only its backslashes need escaping for COPY."""
    try:
        text = _encode_json(value).decode()
    except (TypeError, msgspec.EncodeError):
        text = "null"
    if "null" in text:
        text = json.dumps(json_safe(value))
    return text.replace("\\", "\\\\")


async def _copy_bus_rows(
    session: AsyncSession, run_id: uuid.UUID, result_sets: Sequence[Mapping[str, Any]], bus_order: Mapping[str, int]
) -> int:
    """COPY on the session's own connection (so in its transaction), as text written a chunk
    at a time: a 20k-bus run is 160k rows, which COPY takes several times faster than batched
    INSERTs, and one write per chunk instead of one per row keeps the client's share small."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection  # psycopg.AsyncConnection
    # None only once the connection is invalidated, which a live session's connection is not.
    assert driver is not None
    columns = ", ".join(f'"{c}"' for c in _COPY_COLUMNS)
    copy_sql = f"COPY {StudyBusResult.__tablename__} ({columns}) FROM STDIN"
    run = str(run_id)
    count = 0
    lines: list[str] = []
    async with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for fault, case, bus_id, values, trail in _bus_rows(result_sets):
            trail_text = _json_text(trail) if trail is not None else "\\N"
            fields = (run, fault, case, str(bus_order[bus_id]), bus_id.translate(_COPY_ESCAPES))
            lines.append("\t".join((*fields, _json_text(values), trail_text)) + "\n")
            count += 1
            if len(lines) >= COPY_CHUNK_ROWS:
                await copy.write("".join(lines))
                lines.clear()
        if lines:
            await copy.write("".join(lines))
    return count


async def result_sets(session: AsyncSession, run_id: uuid.UUID) -> list[StudyResultSet]:
    rows = await session.scalars(
        select(StudyResultSet).where(StudyResultSet.run_id == run_id).order_by(StudyResultSet.position)
    )
    return list(rows)


def _filtered(
    run_id: uuid.UUID, *, buses: Sequence[str] | None, faults: Sequence[str] | None, cases: Sequence[str] | None
):
    query = select(StudyBusResult).where(StudyBusResult.run_id == run_id)
    if buses:
        query = query.where(StudyBusResult.bus_id.in_(list(buses)))
    if faults:
        query = query.where(StudyBusResult.fault.in_(list(faults)))
    if cases:
        query = query.where(StudyBusResult.case.in_(list(cases)))
    return query


# Pages follow the result sets' order (fault, case as solved) then the document's bus order.
def _ordered(query):
    return query.join(
        StudyResultSet,
        (StudyResultSet.run_id == StudyBusResult.run_id)
        & (StudyResultSet.fault == StudyBusResult.fault)
        & (StudyResultSet.case == StudyBusResult.case),
    ).order_by(StudyResultSet.position, StudyBusResult.bus_index)


async def bus_results_page(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    buses: Sequence[str] | None = None,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
    paging: PageParams,
) -> Rows[StudyBusResult]:
    query = _filtered(run_id, buses=buses, faults=faults, cases=cases)
    # Counted without the ordering join: the result-set join adds nothing to the count of 160k rows.
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(_ordered(query).offset(paging.offset).limit(paging.page_size))
    return Rows(items=list(rows), total=int(total or 0), page=paging.page, page_size=paging.page_size)


async def iter_bus_results(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    buses: Sequence[str] | None = None,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
    chunk: int = 2000,
) -> AsyncIterator[StudyBusResult]:
    """Every matching row in page order, fetched in chunks (downloads of 20k-bus runs)."""
    query = _ordered(_filtered(run_id, buses=buses, faults=faults, cases=cases))
    result = await session.stream_scalars(query.execution_options(yield_per=chunk))
    async for row in result:
        yield row


def set_read(rs: StudyResultSet) -> dict[str, Any]:
    return {"fault": rs.fault, "case": rs.case, "quantities": rs.quantities, **(rs.extra or {})}
