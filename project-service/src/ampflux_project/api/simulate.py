"""`POST /circuits/{project_id}/simulate`: start a study run of a circuit version.

The project service checks access and pins the version, then submits the run to the
simulation service (`POST <simulation_url>/simulations`) with the caller's token, so that
service's own rules apply and it reads the version back from here as the caller. Until a
simulation service is configured (`PROJECT_SIMULATION_URL`) this answers 503.
"""

from __future__ import annotations

import uuid

import httpx
from fastapi import APIRouter, Request, Response

from ampflux_shared.errors import ProblemError, conflict, unavailable
from ampflux_shared.observability import REQUEST_ID_HEADER, current_request_id
from ampflux_shared.security import CurrentPrincipal, require_scope, scoped

from ..domain import circuits, versions
from ..domain.access import ProjectRole, project_access
from ..schemas import SimulateRequest
from .deps import SessionDep

router = APIRouter(
    prefix="/circuits", tags=["simulation"], dependencies=[require_scope("projects:read"), scoped("simulations")]
)


def simulation_unavailable(detail: str = "simulation service not available") -> ProblemError:
    return unavailable(detail, slug="simulation-unavailable", retry_after_s=30)


@router.post(
    "/{project_id}/simulate",
    status_code=202,
    summary="Run a short-circuit study of a circuit version (editors); 503 until the simulation service exists",
)
async def simulate(
    project_id: uuid.UUID, body: SimulateRequest, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.editor)
    circuit = await circuits.get_circuit(session, access, body.circuit_id)
    version = (
        await versions.get_version(session, circuit, body.version)
        if body.version is not None
        else await versions.latest_version(session, circuit)
    )
    if version is None:
        raise conflict("the circuit has no version to simulate yet")
    base_url = request.app.state.settings.simulation_url.rstrip("/")
    if not base_url:
        raise simulation_unavailable()
    # The version number is pinned here so a save racing the submission cannot change
    # what gets simulated.
    payload = {
        "project_id": str(project_id),
        "circuit": {"circuit_id": str(circuit.id), "version": version.number},
        "options": body.options,
    }
    headers = {"Authorization": request.headers.get("authorization", "")}
    if rid := current_request_id():
        headers[REQUEST_ID_HEADER] = rid
    if key := request.headers.get("idempotency-key"):
        headers["Idempotency-Key"] = key
    settings = request.app.state.settings
    # Tests put an httpx.MockTransport here; None means real network.
    transport = getattr(request.app.state, "simulation_transport", None)
    try:
        async with httpx.AsyncClient(timeout=settings.simulation_timeout_s, transport=transport) as client:
            upstream = await client.post(f"{base_url}/simulations", json=payload, headers=headers)
    except httpx.HTTPError:
        raise simulation_unavailable("the simulation service did not answer") from None
    # Passed through as is: the simulation service's answer (or problem) is the caller's.
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
    )
