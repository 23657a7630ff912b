"""Live status of a run as Server-Sent Events.

The stream looks at the run every `events_poll_s` and sends an event whenever its status
or progress changed (event name = status, data = the run as JSON); it ends after a
terminal state. Polling the database, rather than listening to the bus, works the same
with any number of API replicas and workers and needs no extra queue per client.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import runs
from .access import visible_run
from .deps import DatabaseDep, SettingsDep
from .views import run_read

router = APIRouter(prefix="/simulations", tags=["simulations"], dependencies=[scoped("simulations")])


@router.get(
    "/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def run_events(
    run_id: uuid.UUID, request: Request, database: DatabaseDep, principal: CurrentPrincipal, settings: SettingsDep
) -> StreamingResponse:
    async with database.session() as session:
        await visible_run(request, session, principal, run_id)  # 404 before any stream starts

    async def stream() -> AsyncIterator[bytes]:
        last: tuple[str, float] | None = None
        last_sent = time.monotonic()
        sequence = 0
        while not await request.is_disconnected():
            async with database.session() as session:
                run = await runs.get_run(session, principal.company_id, run_id)
            snapshot = (run.status, round(run.progress, 3))
            if snapshot != last:
                last, sequence, last_sent = snapshot, sequence + 1, time.monotonic()
                data = run_read(run).model_dump_json()
                yield f"id: {sequence}\nevent: {run.status}\ndata: {data}\n\n".encode()
            if run.run_status.is_terminal:
                return
            if time.monotonic() - last_sent >= settings.events_keepalive_s:
                last_sent = time.monotonic()
                yield b": keep-alive\n\n"
            await asyncio.sleep(settings.events_poll_s)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
