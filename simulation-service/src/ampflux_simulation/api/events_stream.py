"""Live status of a run as Server-Sent Events (sse-starlette: keep-alive pings, disconnects).

An event whenever the run's status or progress changed (event name = status, data = the run
as JSON); the stream ends after a terminal state. Changes are pushed: the database NOTIFYs
each run change (migration 0003) and the process's one listener (`ampflux_shared.db_notify`) wakes
the streams of that run, which then read it once. Without the listener (SQLite, or while it
reconnects) a stream polls every `events_poll_s`. Any number of API replicas and workers
work the same way, with no queue per client.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from ampflux_shared.db_notify import ChangeListener, follow
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import runs
from .access import visible_run
from .deps import DatabaseDep, SettingsDep
from .views import run_read

router = APIRouter(prefix="/simulations", tags=["simulations"], dependencies=[scoped("simulations")])


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def run_events(
    run_id: uuid.UUID, request: Request, database: DatabaseDep, principal: CurrentPrincipal, settings: SettingsDep
) -> EventSourceResponse:
    async with database.session() as session:
        await visible_run(request, session, principal, run_id)  # 404 before any stream starts
    changes: ChangeListener | None = getattr(request.app.state, "run_changes", None)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        last: tuple[str, float] | None = None
        sequence = 0
        reads = follow(changes, run_id, poll_s=settings.events_poll_s, keepalive_s=settings.events_keepalive_s)
        async with contextlib.aclosing(reads):
            async for _ in reads:
                async with database.session() as session:
                    run = await runs.get_run(session, principal.company_id, run_id)
                snapshot = (run.status, round(run.progress, 3))
                if snapshot != last:
                    last, sequence = snapshot, sequence + 1
                    yield ServerSentEvent(
                        data=run_read(run).model_dump_json(), event=run.status, id=str(sequence), sep="\n"
                    )
                if run.run_status.is_terminal:
                    return

    return EventSourceResponse(
        stream(),
        ping=int(max(settings.events_keepalive_s, 1)),
        sep="\n",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
