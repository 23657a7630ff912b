"""`POST /circuits/{project_id}/simulate`: study a saved circuit version, in one hop.

The path sits with the project's circuits, but the gateway routes this one action here
(`/circuits/*/simulate`): the run is this service's, so its answer — `Location`,
`Idempotent-Replayed`, `Retry-After` — reaches the caller as given, and the document is
read once, from the project service, as the caller.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from ampflux_shared.security import require_scope, scoped

from ..schemas import CircuitSimulate, CircuitVersionRef, SimulationCreate, SimulationRead
from .deps import RunnerPrincipal, SessionDep
from .simulations import IdempotencyKey, submit

router = APIRouter(
    prefix="/circuits", tags=["simulations"], dependencies=[require_scope("projects:read"), scoped("simulations")]
)


@router.post(
    "/{project_id}/simulate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SimulationRead,
    summary="Run a short-circuit study of a saved circuit version (editors); the newest unless `version` is given",
)
async def simulate_circuit(
    project_id: uuid.UUID,
    body: CircuitSimulate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: RunnerPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> SimulationRead:
    create = SimulationCreate(
        project_id=project_id,
        circuit=CircuitVersionRef(circuit_id=body.circuit_id, version=body.version),
        options=body.options,
    )
    return await submit(create, request, response, session, principal, idempotency_key)
