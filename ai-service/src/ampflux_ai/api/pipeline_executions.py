"""Pipeline executions: read one (each step's status, output, timing and tokens), follow it
as Server-Sent Events, cancel it."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from ampflux_shared.db_notify import ChangeListener, follow
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import executions
from ..domain.execution_events import events_of
from ..schemas import PipelineExecutionRead
from .deps import DatabaseDep, SessionDep, SettingsDep

router = APIRouter(prefix="/ai/pipeline-executions", tags=["pipelines"], dependencies=[scoped("ai")])


@router.get("/{execution_id}", summary="An execution with each step's status, output, timing and tokens")
async def read_execution(
    execution_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> PipelineExecutionRead:
    execution = await executions.get_owned(session, principal, execution_id)
    return executions.read(execution, await executions.steps_of(session, execution.id))


@router.post(
    "/{execution_id}/cancel",
    summary="Cancel a queued or running execution (409 once it has finished)",
    responses={409: {"description": "the execution has already finished"}},
)
async def cancel_execution(
    execution_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> PipelineExecutionRead:
    execution = await executions.get_owned(session, principal, execution_id, lock=True)
    steps = await executions.steps_of(session, execution.id)
    await executions.cancel(session, execution)
    return executions.read(execution, steps)


@router.get(
    "/{execution_id}/events",
    summary="Follow an execution: step_started, step_finished (each step), then execution_finished",
    response_class=EventSourceResponse,
    # Each event is a JSON object of its own kind: no one schema describes them all.
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def execution_events(
    execution_id: uuid.UUID,
    request: Request,
    database: DatabaseDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    async with database.session() as session:
        await executions.get_owned(session, principal, execution_id)  # 404 before any stream starts
    changes: ChangeListener | None = getattr(request.app.state, "execution_changes", None)
    sent = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0

    async def stream() -> AsyncIterator[ServerSentEvent]:
        nonlocal sent
        reads = follow(
            changes,
            execution_id,
            poll_s=settings.pipeline_events_poll_s,
            keepalive_s=settings.pipeline_events_keepalive_s,
        )
        async with contextlib.aclosing(reads):
            async for _ in reads:
                async with database.session() as session:
                    execution = await executions.get_owned(session, principal, execution_id)
                    steps = await executions.steps_of(session, execution_id)
                    found = events_of(execution, steps)
                for event in found:
                    if event.id > sent:
                        sent = event.id
                        yield ServerSentEvent(
                            data=json.dumps(event.data, default=str), event=event.type, id=str(event.id), sep="\n"
                        )
                if execution.status in executions.TERMINAL:
                    return

    return EventSourceResponse(
        stream(),
        ping=int(max(settings.pipeline_events_keepalive_s, 1)),
        sep="\n",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
