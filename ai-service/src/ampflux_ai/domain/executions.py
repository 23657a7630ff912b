"""Pipeline executions: started by their caller, read and cancelled by them only.

Starting one writes the execution, a row per step and its `ai.pipeline_execution.queued`
event in the caller's transaction: the event is the job, so an execution that is stored is
also on its way to a worker (the outbox publishes it once the broker is there).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import conflict, not_found, unavailable
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from .. import events
from ..models import Pipeline, PipelineExecution, PipelineStepRun
from ..schemas import PipelineExecutionRead, StepRunRead
from .credentials import seal_token
from .pipeline_definition import resolve_inputs
from .sealing import KeyRing

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# Steps that call the platform with the caller's rights, and so need the caller's token.
ACTING_KINDS = frozenset({"tool", "study"})


async def start(
    session: AsyncSession,
    principal: Principal,
    pipeline: Pipeline,
    given: dict[str, Any],
    *,
    bearer: str,
    keyring: KeyRing | None,
) -> tuple[PipelineExecution, list[PipelineStepRun]]:
    inputs = resolve_inputs(pipeline.inputs, given)
    execution = PipelineExecution(
        id=uuid.uuid4(),
        pipeline_id=pipeline.id,
        company_id=principal.company_id,
        user_id=principal.user_id,
        status="queued",
        inputs=inputs,
        steps=list(pipeline.steps),
    )
    if any(step["kind"] in ACTING_KINDS for step in pipeline.steps):
        if keyring is None:
            raise unavailable(
                "pipelines with tool or study steps keep the caller's token sealed for the workers; the operator "
                "sets AI_KEY_ENCRYPTION_KEYS (the same on the API and the pipeline workers) to allow them",
                slug="ai-pipeline-credentials-not-configured",
            )
        sealed = seal_token(keyring, bearer, execution_id=execution.id, exp=principal.claims.get("exp"))
        execution.token_key_id = sealed.key_id
        execution.token_ciphertext = sealed.ciphertext
        execution.token_expires_at = sealed.expires_at
    session.add(execution)
    # The execution first: the step rows' foreign key needs it.
    await session.flush()
    steps = [
        PipelineStepRun(execution_id=execution.id, position=i, name=step["name"], kind=step["kind"])
        for i, step in enumerate(pipeline.steps)
    ]
    session.add_all(steps)
    await session.flush()
    await events.pipeline_execution_queued(session, execution)
    return execution, steps


async def get_owned(
    session: AsyncSession, principal: Principal, execution_id: uuid.UUID, *, lock: bool = False
) -> PipelineExecution:
    query = select(PipelineExecution).where(
        PipelineExecution.id == execution_id,
        PipelineExecution.user_id == principal.user_id,
        PipelineExecution.company_id == principal.company_id,
    )
    if lock:
        query = query.with_for_update()
    execution = await session.scalar(query)
    if execution is None:
        raise not_found("pipeline execution")
    return execution


async def steps_of(session: AsyncSession, execution_id: uuid.UUID) -> list[PipelineStepRun]:
    rows = await session.scalars(
        select(PipelineStepRun).where(PipelineStepRun.execution_id == execution_id).order_by(PipelineStepRun.position)
    )
    return list(rows)


async def list_for_pipeline(
    session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID, paging: PageParams
) -> Rows[PipelineExecution]:
    query = (
        select(PipelineExecution)
        .where(
            PipelineExecution.pipeline_id == pipeline_id,
            PipelineExecution.user_id == principal.user_id,
            PipelineExecution.company_id == principal.company_id,
        )
        .order_by(PipelineExecution.created_at.desc(), PipelineExecution.id)
    )
    return await paginate(session, query, paging)


def end(execution: PipelineExecution, status: str, error: str | None = None) -> None:
    """Mark the execution finished; the caller's token is no longer needed, so it goes."""
    execution.status = status
    execution.error = error
    execution.finished_at = utcnow()
    execution.token_ciphertext = None
    execution.token_key_id = None
    execution.lease = None


async def cancel(session: AsyncSession, execution: PipelineExecution) -> list[PipelineStepRun]:
    """Cancel a queued or running execution (its worker stops at its next check)."""
    if execution.status in TERMINAL:
        raise conflict(f"the execution has already {execution.status}", slug="ai-pipeline-execution-finished")
    end(execution, "cancelled", "cancelled by the user")
    steps = await steps_of(session, execution.id)
    now = utcnow()
    for step in steps:
        if step.status in ("pending", "running"):
            step.status = "cancelled"
            if step.started_at is not None:
                step.finished_at = now
    return steps


def read(execution: PipelineExecution, steps: list[PipelineStepRun]) -> PipelineExecutionRead:
    output = steps[-1].output if execution.status == "succeeded" and steps else None
    return PipelineExecutionRead(
        id=execution.id,
        pipeline_id=execution.pipeline_id,
        status=execution.status,
        inputs=execution.inputs,
        error=execution.error,
        output=output,
        tokens_in=execution.tokens_in,
        tokens_out=execution.tokens_out,
        attempts=execution.attempts,
        created_at=execution.created_at,
        started_at=execution.started_at,
        finished_at=execution.finished_at,
        credentials_expire_at=execution.token_expires_at if execution.token_ciphertext is not None else None,
        steps=[StepRunRead.model_validate(step) for step in steps],
    )
