"""Pipeline definitions (saved, validated, listed, replaced, deleted) and their execution."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status

from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import executions
from ..domain import pipelines as service
from ..schemas import (
    PipelineCreate,
    PipelineExecute,
    PipelineExecutionRead,
    PipelineExecutionSummary,
    PipelineRead,
    PipelineUpdate,
)
from .deps import PageDep, SessionDep

router = APIRouter(prefix="/ai/pipelines", tags=["pipelines"], dependencies=[scoped("ai")])

_INVALID: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "the definition is invalid: `errors[]` names each bad field by path, e.g. `steps[2].prompt` "
        "(unknown kind or tool, a reference to a missing or later step, a cycle, a duplicate name)"
    }
}


@router.post("", status_code=status.HTTP_201_CREATED, summary="Save a pipeline (validated first)", responses=_INVALID)
async def create_pipeline(
    body: PipelineCreate, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> PipelineRead:
    pipeline = await service.create(session, principal, body)
    response.headers["Location"] = f"/ai/pipelines/{pipeline.id}"
    return PipelineRead.model_validate(pipeline)


@router.get("", summary="The caller's pipelines, most recently changed first")
async def list_pipelines(principal: CurrentPrincipal, session: SessionDep, paging: PageDep) -> Page[PipelineRead]:
    rows = await service.list_owned(session, principal, paging)
    return Page(**rows.to_page([PipelineRead.model_validate(p) for p in rows.items]))


@router.get("/{pipeline_id}", summary="A pipeline's definition")
async def read_pipeline(pipeline_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> PipelineRead:
    return PipelineRead.model_validate(await service.get_owned(session, principal, pipeline_id))


@router.put("/{pipeline_id}", summary="Replace a pipeline's definition (validated first)", responses=_INVALID)
async def replace_pipeline(
    pipeline_id: uuid.UUID, body: PipelineUpdate, principal: CurrentPrincipal, session: SessionDep
) -> PipelineRead:
    pipeline = await service.get_owned(session, principal, pipeline_id, lock=True)
    return PipelineRead.model_validate(await service.replace(session, pipeline, body))


@router.delete(
    "/{pipeline_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a pipeline (its executions, under way or done, keep their own copy of the steps)",
)
async def delete_pipeline(pipeline_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    pipeline = await service.get_owned(session, principal, pipeline_id, lock=True)
    await session.delete(pipeline)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{pipeline_id}/execute",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Execute a pipeline on the workers: 202 with the execution (Location: where to follow it)",
    responses={
        422: {"description": "an input is missing (no default) or not declared: `errors[]` names it (`inputs.x`)"},
        503: {"description": "the pipeline has tool or study steps and AI_KEY_ENCRYPTION_KEYS is not configured"},
    },
)
async def execute_pipeline(
    pipeline_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    body: PipelineExecute | None = None,
) -> PipelineExecutionRead:
    pipeline = await service.get_owned(session, principal, pipeline_id)
    execution, steps = await executions.start(
        session,
        principal,
        pipeline,
        body.inputs if body else {},
        bearer=request.headers.get("authorization", ""),
        keyring=request.app.state.credential_keyring,
    )
    response.headers["Location"] = f"/ai/pipeline-executions/{execution.id}"
    return executions.read(execution, steps)


@router.get("/{pipeline_id}/executions", summary="A pipeline's executions, newest first")
async def list_executions(
    pipeline_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[PipelineExecutionSummary]:
    await service.get_owned(session, principal, pipeline_id)  # 404 for another user's pipeline
    rows = await executions.list_for_pipeline(session, principal, pipeline_id, paging)
    return Page(**rows.to_page([PipelineExecutionSummary.model_validate(e) for e in rows.items]))
