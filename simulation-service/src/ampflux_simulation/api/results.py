"""A run's results: filtered pages, and CSV / JSON downloads."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from ampflux_shared.errors import conflict
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import export, results
from ..models import RunStatus, StudyResultSet, StudyRun
from ..schemas import BusResultRead, ResultSetRead, ResultsPage
from .access import visible_run
from .deps import DatabaseDep, DecodedSetsDep, PageDep, SessionDep

router = APIRouter(prefix="/simulations", tags=["results"], dependencies=[scoped("simulations")])

BusFilter = Annotated[list[str] | None, Query(description="only these bus ids (repeat the parameter)")]
FaultFilter = Annotated[list[str] | None, Query(description="only these fault types: 3ph, 2ph, 1ph, 2phg")]
CaseFilter = Annotated[list[str] | None, Query(description="only these cases: max, min")]


def _require_results(run: StudyRun) -> None:
    if run.run_status is not RunStatus.SUCCEEDED:
        raise conflict(
            f"the run is {run.status}; results exist once it has succeeded",
            slug="results-not-ready",
            status_of_run=run.status,
        )


@router.get("/{run_id}/results", response_model=ResultsPage)
async def get_results(
    run_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    decoded: DecodedSetsDep,
    principal: CurrentPrincipal,
    paging: PageDep,
    bus: BusFilter = None,
    fault: FaultFilter = None,
    case: CaseFilter = None,
    trail: Annotated[bool, Query(description="include the intermediate values per bus")] = False,
) -> ResultsPage:
    """One page of per-bus results, in result-set then document bus order."""
    run = await visible_run(request, session, principal, run_id)
    _require_results(run)
    sets = await results.result_sets(session, run.id, faults=fault, cases=case)
    rows = await results.bus_results_page(session, decoded, sets, buses=bus, paging=paging)
    return ResultsPage(
        run_id=run.id,
        result_sets=[ResultSetRead(**results.set_read(rs)) for rs in sets],
        items=[
            BusResultRead(
                fault=r.fault,
                case=r.case,
                bus_id=r.bus_id,
                bus_index=r.bus_index,
                values=r.values,
                trail=r.trail if trail else None,
            )
            for r in rows.items
        ],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.get(
    "/{run_id}/results/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def download_results(
    run_id: uuid.UUID,
    request: Request,
    database: DatabaseDep,
    decoded: DecodedSetsDep,
    principal: CurrentPrincipal,
    format: Literal["csv", "json"] = "csv",
    bus: BusFilter = None,
    fault: FaultFilter = None,
    case: CaseFilter = None,
    trail: Annotated[bool, Query(description="JSON only: include each set's trail")] = False,
    table: Annotated[
        Literal["buses", "duty"],
        Query(description="buses: the per-bus results; duty: the equipment duty table (a study with study.duty)"),
    ] = "buses",
) -> Response:
    """Every matching result as CSV (one row per fault, case and bus) or as FORMAT.md
    `result_sets` JSON, streamed a result set at a time; with
    `table=duty` the equipment duty rows instead (per device, check, fault and case; `bus`
    filters by the device's location)."""
    async with database.session() as session:
        run = await visible_run(request, session, principal, run_id)
        _require_results(run)
        sets = await results.result_sets(session, run.id, faults=fault, cases=case)
    if table == "duty":
        return _duty_download(run, sets, format, bus)

    async def body():
        # A session of its own: the response outlives the route function.
        async with database.session() as session:
            rows = results.iter_bus_results(session, decoded, sets, buses=bus)
            if format == "csv":
                chunks = export.csv_chunks(export.csv_columns(sets), rows)
            else:
                header = {"run_id": str(run.id), "circuit_id": run.document_id}
                chunks = export.json_chunks(header, sets, rows, with_trail=trail)
            async for chunk in chunks:
                yield chunk

    media_type = "text/csv" if format == "csv" else "application/json"
    filename = f"simulation-{run.id}.{format}"
    return StreamingResponse(
        body(), media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _duty_download(run: StudyRun, sets: list[StudyResultSet], format: str, buses: list[str] | None) -> Response:
    # Small (devices × checks × sets): answered whole, not streamed.
    rows = list(export.duty_rows((results.set_read(rs) for rs in sets), buses=buses))
    if format == "csv":
        body, media_type = export.duty_csv(rows), "text/csv"
    else:
        body = json.dumps({"run_id": str(run.id), "circuit_id": run.document_id, "duty": rows}, allow_nan=False)
        media_type = "application/json"
    filename = f"simulation-{run.id}-duty.{format}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
