"""The execution's state as a worker moves it, one short transaction per transition.

A claim draws a new lease; every later write locks the execution and goes ahead only while it
is still `running` under that lease. So a worker whose execution was cancelled, or taken over
by another worker after a redelivery, stops at its next write instead of writing twice.
Each step's result is committed before the next step starts: that is what a resumed execution
reads to skip the steps already done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import Database, utcnow

from ..domain import executions, usage
from ..domain.credentials import SealedToken
from ..models import PipelineExecution, PipelineStepRun
from .steps import Caller, StepResult


@dataclass
class StepState:
    position: int
    name: str
    kind: str
    status: str
    output: Any = None


@dataclass
class Claim:
    execution_id: uuid.UUID
    lease: uuid.UUID
    caller: Caller
    inputs: dict[str, Any]
    definition: list[dict[str, Any]]
    steps: list[StepState] = field(default_factory=list)


async def claim(database: Database, execution_id: uuid.UUID, worker_id: str) -> Claim | None:
    """Take the execution over (None: unknown here, or already finished or cancelled)."""
    async with database.session() as session:
        execution = await session.scalar(
            select(PipelineExecution).where(PipelineExecution.id == execution_id).with_for_update()
        )
        if execution is None or execution.status in executions.TERMINAL:
            return None
        now = utcnow()
        execution.status = "running"
        execution.lease = uuid.uuid4()
        execution.worker_id = worker_id[:200]
        execution.heartbeat_at = now
        execution.attempts += 1
        execution.started_at = execution.started_at or now
        token = (
            SealedToken(execution.token_key_id, execution.token_ciphertext, execution.token_expires_at)
            if execution.token_ciphertext is not None and execution.token_key_id is not None
            else None
        )
        rows = await executions.steps_of(session, execution.id)
        return Claim(
            execution_id=execution.id,
            lease=execution.lease,
            caller=Caller(execution.id, execution.company_id, execution.user_id, token),
            inputs=dict(execution.inputs),
            definition=list(execution.steps),
            steps=[StepState(r.position, r.name, r.kind, r.status, r.output) for r in rows],
        )


async def _mine(session: AsyncSession, claim: Claim) -> PipelineExecution | None:
    execution = await session.scalar(
        select(PipelineExecution).where(PipelineExecution.id == claim.execution_id).with_for_update()
    )
    if execution is None or execution.status != "running" or execution.lease != claim.lease:
        return None
    return execution


async def _step(session: AsyncSession, claim: Claim, position: int) -> PipelineStepRun:
    step = await session.get(PipelineStepRun, (claim.execution_id, position), with_for_update=True)
    assert step is not None, "an execution's step rows are written with it"
    return step


async def begin_step(database: Database, claim: Claim, position: int) -> bool | None:
    """Mark the step running. None: the execution is no longer ours; else whether the step
    was already running (its worker died mid-step, so it starts again)."""
    async with database.session() as session:
        execution = await _mine(session, claim)
        if execution is None:
            return None
        step = await _step(session, claim, position)
        resumed = step.status == "running"
        now = utcnow()
        step.status = "running"
        step.attempts += 1
        step.started_at = now
        step.finished_at = None
        execution.heartbeat_at = now
        return resumed


async def store_step(database: Database, claim: Claim, position: int, result: StepResult, seconds: float) -> bool:
    """Commit the step's result (and, when it failed, the failed execution); False: not ours."""
    async with database.session() as session:
        execution = await _mine(session, claim)
        if execution is None:
            return False
        step = await _step(session, claim, position)
        step.status = "succeeded" if result.ok else "failed"
        step.output = result.output
        step.error = result.error
        step.model = result.model
        step.tokens_in, step.tokens_out = result.tokens_in, result.tokens_out
        step.finished_at = utcnow()
        step.duration_ms = seconds * 1000
        execution.tokens_in += result.tokens_in
        execution.tokens_out += result.tokens_out
        if result.model and (result.tokens_in or result.tokens_out):
            await usage.record(
                session,
                company_id=execution.company_id,
                user_id=execution.user_id,
                model=result.model,
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
            )
        if not result.ok:
            executions.end(execution, "failed", f"step {step.name!r} failed: {result.error}")
            await session.execute(
                update(PipelineStepRun)
                .where(
                    PipelineStepRun.execution_id == claim.execution_id,
                    PipelineStepRun.position > position,
                    PipelineStepRun.status == "pending",
                )
                .values(status="skipped")
            )
        return True


async def succeed(database: Database, claim: Claim) -> bool:
    async with database.session() as session:
        execution = await _mine(session, claim)
        if execution is None:
            return False
        executions.end(execution, "succeeded")
        return True


async def still_ours(database: Database, claim: Claim) -> bool:
    """The cancel check while a step runs, which also beats the execution's heartbeat."""
    async with database.session() as session:
        result = await session.execute(
            update(PipelineExecution)
            .where(
                PipelineExecution.id == claim.execution_id,
                PipelineExecution.lease == claim.lease,
                PipelineExecution.status == "running",
            )
            .values(heartbeat_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))


async def _fail(session: AsyncSession, execution: PipelineExecution, detail: str) -> None:
    executions.end(execution, "failed", detail)
    for was, becomes in (("running", "failed"), ("pending", "skipped")):
        await session.execute(
            update(PipelineStepRun)
            .where(PipelineStepRun.execution_id == execution.id, PipelineStepRun.status == was)
            .values(status=becomes, error=detail if becomes == "failed" else None)
        )


async def fail_dead_lettered(
    database: Database, execution_id: uuid.UUID, reason: str, *, requeue_within: int | None = None
) -> str:
    """The broker gave up on the execution's job: fail it (and its open steps) if still open
    ("failed"), or, with `requeue_within`, send it back ("requeue") when it was claimed no more
    often than that: the delivery limit was then spent by redeliveries (a broker restart returns
    every unacked message and RabbitMQ counts it), not by workers dying on it. "done": nothing open."""
    async with database.session() as session:
        execution = await session.scalar(
            select(PipelineExecution).where(PipelineExecution.id == execution_id).with_for_update()
        )
        if execution is None or execution.status in executions.TERMINAL:
            return "done"
        if requeue_within is not None and execution.attempts <= requeue_within:
            return "requeue"
        await _fail(session, execution, f"the execution was given up after {execution.attempts} attempt(s): {reason}")
        return "failed"


async def fail_open(database: Database, claim: Claim, reason: str) -> bool:
    """Fail the execution this worker holds (a crash outside any one step)."""
    async with database.session() as session:
        execution = await _mine(session, claim)
        if execution is None:
            return False
        await _fail(session, execution, reason)
        return True


async def open_executions(database: Database) -> list[uuid.UUID]:
    """Executions queued or running (the embedded mode picks them up again after a restart)."""
    async with database.session() as session:
        rows = await session.scalars(
            select(PipelineExecution.id)
            .where(PipelineExecution.status.in_(("queued", "running")))
            .order_by(PipelineExecution.created_at)
        )
        return list(rows)
