"""Submit, read, list, compare and cancel study runs."""

from __future__ import annotations

import functools
import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request, Response, status

from ampflux_shared.circuit import document_sha256
from ampflux_shared.circuit.schema import add_schema_route
from ampflux_shared.errors import conflict, forbidden
from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import compare as compare_domain
from ..domain import runs
from ..domain.inputs import prepare_input
from ..models import RunStatus
from ..schemas import (
    BusComparison,
    ComparisonPage,
    QuantityDelta,
    SimulationCreate,
    SimulationRead,
)
from .access import bearer_token, require_project, require_project_role, visible_run
from .deps import RUN_ROLES, DecodedSetsDep, PageDep, RunnerPrincipal, SessionDep
from .views import run_read

router = APIRouter(prefix="/simulations", tags=["simulations"], dependencies=[scoped("simulations")])
# GET /simulations/circuit-document.schema.json, registered before /{run_id} takes the path.
add_schema_route(router)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="retrying a POST with the same key returns the run the first one created",
    ),
]


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=SimulationRead)
async def submit_simulation(
    body: SimulationCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: RunnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> SimulationRead:
    """Queue a study of a saved circuit version (read from the project service with the
    caller's token) or of an inline document. Answers 202 with the queued run."""
    return await submit(body, request, response, session, principal, idempotency_key)


async def submit(
    body: SimulationCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: RunnerPrincipal,
    idempotency_key: str | None,
) -> SimulationRead:
    """The one way a run is queued, for `POST /simulations` and `POST /circuits/{id}/simulate`."""
    # Hashing, validating and preparing a document is CPU work that grows with it (0.6 s for
    # 20k buses): in a worker thread, so the other requests of the process keep moving.
    request_sha256 = await anyio.to_thread.run_sync(_request_sha256, body)
    if idempotency_key:
        # A replay needs no validation: same key, same run (still only for who may see its project).
        existing = await runs.find_by_idempotency_key(session, principal.company_id, idempotency_key, request_sha256)
        if existing is not None:
            await require_project(request, principal, existing.project_id)
            return _accepted(response, existing, replayed=True)

    # Editors of the project (admins of its company) start studies, by either route.
    await require_project_role(request, principal, body.project_id, "editor")
    if body.document is not None:
        study = await anyio.to_thread.run_sync(
            functools.partial(prepare_input, body.document, body.options, path_prefix="document.")
        )
        version = None
    else:
        assert body.circuit is not None
        version = await request.app.state.project_client.fetch_version(
            bearer_token(request), body.project_id, body.circuit.circuit_id, body.circuit.version
        )
        study = await anyio.to_thread.run_sync(prepare_input, version.document, body.options)

    submission = runs.Submission(
        company_id=principal.company_id,
        project_id=body.project_id,
        requested_by=principal.user_id,
        circuit_id=version.circuit_id if version else None,
        circuit_version_id=version.id if version else None,
        circuit_version_number=version.number if version else None,
        options={**study.solve_options, **body.options.model_dump(include={"ip_method", "tk_s", "duty"})},
        idempotency_key=idempotency_key,
        request_sha256=request_sha256,
    )
    run, created = await runs.submit_run(session, submission, study)
    return _accepted(response, run, replayed=not created)


@router.get("", response_model=Page[SimulationRead])
async def list_simulations(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    paging: PageDep,
    project_id: uuid.UUID | None = None,
    circuit_id: uuid.UUID | None = None,
    circuit_version: Annotated[uuid.UUID | None, Query(description="circuit version id")] = None,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
) -> Page[SimulationRead]:
    """Runs of one project (`project_id`, if the caller may see it); without `project_id`,
    the runs the caller requested (company admins: every run of the company)."""
    if project_id is not None:
        await require_project(request, principal, project_id)
    rows = await runs.list_runs(
        session,
        principal.company_id,
        project_id=project_id,
        requested_by=None if project_id is not None or principal.is_admin else principal.user_id,
        circuit_id=circuit_id,
        circuit_version_id=circuit_version,
        status=status_,
        paging=paging,
    )
    return Page[SimulationRead].model_validate(rows.to_page([run_read(r) for r in rows.items]))


@router.get("/compare", response_model=ComparisonPage)
async def compare_simulations(
    request: Request,
    session: SessionDep,
    decoded: DecodedSetsDep,
    principal: CurrentPrincipal,
    paging: PageDep,
    a: uuid.UUID,
    b: uuid.UUID,
    fault: Annotated[list[str] | None, Query()] = None,
    case: Annotated[list[str] | None, Query()] = None,
    bus: Annotated[list[str] | None, Query()] = None,
) -> ComparisonPage:
    """Per (fault, case, bus) and quantity: b − a and (b − a)/|a|. Both runs must have succeeded."""
    for run_id in (a, b):
        run = await visible_run(request, session, principal, run_id)
        if run.run_status is not RunStatus.SUCCEEDED:
            raise conflict(f"run {run_id} is {run.status}; only succeeded runs have results")
    items, total = await compare_domain.compare_runs(
        session, decoded, a, b, faults=fault, cases=case, buses=bus, paging=paging
    )
    largest: dict[str, float] = {}
    for item in items:
        for q, d in item.quantities.items():
            if d.relative is not None:
                largest[q] = max(largest.get(q, 0.0), abs(d.relative))
    return ComparisonPage(
        a=a,
        b=b,
        items=[
            BusComparison(
                fault=i.fault,
                case=i.case,
                bus_id=i.bus_id,
                in_a=i.in_a,
                in_b=i.in_b,
                quantities={q: QuantityDelta(**vars(d)) for q, d in i.quantities.items()},
            )
            for i in items
        ],
        total=total,
        page=paging.page,
        page_size=paging.page_size,
        max_abs_relative=largest,
    )


@router.get("/{run_id}", response_model=SimulationRead)
async def get_simulation(
    run_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SimulationRead:
    """Status, progress and timings (queue wait, solve time) of one run."""
    return run_read(await visible_run(request, session, principal, run_id))


@router.post("/{run_id}/cancel", response_model=SimulationRead)
async def cancel_simulation(
    run_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SimulationRead:
    """Cancel a queued or running run (a running solve is stopped); 409 once it finished.
    The submitter may; so may whoever may start studies on the project (editors)."""
    run = await visible_run(request, session, principal, run_id)
    if run.requested_by != principal.user_id:
        if not principal.has_role(*RUN_ROLES):
            raise forbidden(f"cancelling another user's run needs one of the roles: {', '.join(RUN_ROLES)}")
        await require_project_role(request, principal, run.project_id, "editor")
    run = await runs.cancel_run(session, principal.company_id, run_id, cancelled_by=principal.user_id)
    return run_read(run)


def _request_sha256(body: SimulationCreate) -> str:
    return document_sha256(body.model_dump(mode="json"))


def _accepted(response: Response, run, *, replayed: bool) -> SimulationRead:
    response.headers["Location"] = f"/simulations/{run.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return run_read(run)
