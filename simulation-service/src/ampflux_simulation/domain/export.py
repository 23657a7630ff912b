"""Downloads of a run's results as CSV or as FORMAT.md `result_sets` JSON, streamed in chunks;
the equipment duty table as CSV (also `ampflux-solve --duty-csv`, so no database import here)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import StudyResultSet
    from .results import BusRow

# The duty table's columns: one row per rated device, check, fault and case (solver/duty.py).
DUTY_COLUMNS = (
    "fault",
    "case",
    "id",
    "kind",
    "check",
    "location",
    "fault_position",
    "required_ka",
    "rated_ka",
    "margin_percent",
    "pass",
    "time_s",
    "kappa",
    "kappa_method",
)


def csv_columns(sets: Sequence[StudyResultSet]) -> list[str]:
    """fault, case, bus_id, then every quantity of the sets in first-seen order."""
    quantities = list(dict.fromkeys(q for rs in sets for q in rs.quantities))
    return ["fault", "case", "bus_id", *quantities]


async def csv_chunks(
    columns: list[str], rows: AsyncIterator[BusRow], *, rows_per_chunk: int = 1000
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_text(c) for c in columns])
    count = 0
    async for row in rows:
        values = row.values
        writer.writerow(
            [_text(row.fault), _text(row.case), _text(row.bus_id), *(_cell(values.get(q)) for q in columns[3:])]
        )
        count += 1
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _text(str(value))
    return repr(value) if isinstance(value, float) else str(value)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """Text from a document (bus ids, names), made inert for spreadsheets with a leading `'`.
    Numbers never pass through here, so `-0.5` stays a number."""
    return "'" + value if value.startswith(_FORMULA_START) else value


async def json_chunks(
    header: dict[str, Any], sets: Sequence[StudyResultSet], rows: AsyncIterator[BusRow], *, with_trail: bool
) -> AsyncIterator[bytes]:
    """`{...header, "result_sets": [{fault, case, quantities, ..., "buses": {id: {q: v}}}]}`.

    Rows arrive grouped by result set (page order), so each set is written once, in
    pieces, without holding a whole 20k-bus run in memory.
    """
    by_key = {(rs.fault, rs.case): rs for rs in sets}
    head = json.dumps(header)[:-1]
    yield f'{head}{", " if header else ""}"result_sets": ['.encode()
    current: tuple[str, str] | None = None
    trail: dict[str, Any] = {}
    first_bus = True
    parts: list[str] = []

    def close_set() -> str:
        text = "}"
        if with_trail:
            text += ', "trail": ' + json.dumps(trail)
        return text + "}"

    async for row in rows:
        key = (row.fault, row.case)
        if key != current:
            if current is not None:
                parts.append(close_set())
                parts.append(", ")
            rs = by_key[key]
            meta = {"fault": rs.fault, "case": rs.case, "quantities": rs.quantities, **(rs.extra or {})}
            parts.append(json.dumps(meta)[:-1] + ', "buses": {')
            current, trail, first_bus = key, {}, True
        parts.append(("" if first_bus else ", ") + json.dumps(row.bus_id) + ": " + json.dumps(row.values))
        first_bus = False
        if with_trail and row.trail is not None:
            trail[row.bus_id] = row.trail
        if len(parts) >= 500:
            yield "".join(parts).encode()
            parts.clear()
    if current is not None:
        parts.append(close_set())
    parts.append("]}")
    yield "".join(parts).encode()


def duty_rows(
    result_sets: Iterable[Mapping[str, Any]], *, buses: Sequence[str] | None = None
) -> Iterator[Mapping[str, Any]]:
    """Every duty row of the sets, in set order (only devices at `buses` when given)."""
    for rs in result_sets:
        for row in rs.get("duty") or ():
            if not buses or row.get("location") in buses:
                yield row


def duty_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The duty table as CSV text: DUTY_COLUMNS, `pass` as true/false."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DUTY_COLUMNS)
    for row in rows:
        writer.writerow([_duty_cell(row.get(column)) for column in DUTY_COLUMNS])
    return buffer.getvalue()


def _duty_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _cell(value)
