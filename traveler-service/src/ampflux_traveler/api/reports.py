"""Reports: dashboard, completion, labor efficiency, coating status, first-pass yield.

Each takes `date_from`/`date_to` (inclusive UTC days), `traveler_type`, and
`format=csv` for the rows as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from ampflux_shared.errors import field_error, validation_failed
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import reports
from ..schemas import TravelerType
from .deps import SessionDep

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[scoped("travelers")])


class Format(StrEnum):
    json = "json"
    csv = "csv"


class Period(StrEnum):
    month = "month"
    week = "week"


def filters(
    principal: CurrentPrincipal,
    date_from: date | None = None,
    date_to: date | None = None,
    traveler_type: TravelerType | None = None,
) -> reports.Filters:
    if date_from and date_to and date_from > date_to:
        raise validation_failed([field_error("query.date_from", "date_from is after date_to", "range")])
    return reports.Filters(
        company_id=principal.company_id,
        date_from=date_from,
        date_to=date_to,
        traveler_type=traveler_type.value if traveler_type else None,
    )


# JSON by default, the rows as CSV with `format=csv` (for the OpenAPI document).
JSON_OR_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}},
        "description": "the report",
    }
}

FiltersDep = Annotated[reports.Filters, Depends(filters)]
FormatQuery = Annotated[Format, Query(description="json, or csv for the rows")]

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def respond(report: dict[str, Any], fmt: Format, name: str) -> Any:
    if fmt == Format.json:
        return report
    rows: list[dict[str, Any]] = report["rows"]
    out = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/dashboard-stats", responses=JSON_OR_CSV, summary="WIP by status and step, due this week, late, on hold")
async def dashboard_stats(
    f: FiltersDep,
    session: SessionDep,
    format: FormatQuery = Format.json,
    today: Annotated[
        date | None, Query(description="the day 'this week' and 'late' count from (default: today, UTC)")
    ] = None,
) -> Any:
    report = await reports.dashboard_stats(session, f, today=today or datetime.now(UTC).date())
    return respond(report, format, "dashboard-stats")


@router.get(
    "/traveler-completion",
    responses=JSON_OR_CSV,
    summary="Completed travelers: lead time and on-time rate by type and period",
)
async def traveler_completion(
    f: FiltersDep, session: SessionDep, format: FormatQuery = Format.json, period: Period = Period.month
) -> Any:
    return respond(await reports.traveler_completion(session, f, period=period.value), format, "traveler-completion")


@router.get(
    "/labor-efficiency", responses=JSON_OR_CSV, summary="Actual against standard minutes per step and per operator"
)
async def labor_efficiency(f: FiltersDep, session: SessionDep, format: FormatQuery = Format.json) -> Any:
    return respond(await reports.labor_efficiency(session, f), format, "labor-efficiency")


@router.get("/coating-status", responses=JSON_OR_CSV, summary="Coating logs by coating type: pass rate and thickness")
async def coating_status(f: FiltersDep, session: SessionDep, format: FormatQuery = Format.json) -> Any:
    return respond(await reports.coating_status(session, f), format, "coating-status")


@router.get(
    "/first-pass-yield", responses=JSON_OR_CSV, summary="First-pass yield per type and step, and per serial unit"
)
async def first_pass_yield(f: FiltersDep, session: SessionDep, format: FormatQuery = Format.json) -> Any:
    return respond(await reports.first_pass_yield(session, f), format, "first-pass-yield")
