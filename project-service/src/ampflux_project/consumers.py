"""What the project service consumes, each event handled at most once thanks to the inbox.

`auth.user.deactivated` takes the user out of every project of their company (see
`domain.members.remove_user_everywhere`); `simulation.run.completed` and
`simulation.run.failed` become the version's latest study (see `domain.studies`);
`simulation.run.cancelled` goes into the project's audit trail with who cancelled it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import (
    EventEnvelope,
    Inbox,
    PoisonEventError,
    SimulationRunCancelled,
    SimulationRunCompleted,
    SimulationRunFailed,
    UserDeactivated,
    consume_once,
    parse_payload,
)

from .domain import audit
from .domain.members import remove_user_everywhere
from .domain.studies import FinishedRun, record_finished_run
from .models import event_tables

USER_DEACTIVATED = "auth.user.deactivated"
RUN_COMPLETED = "simulation.run.completed"
RUN_FAILED = "simulation.run.failed"
RUN_CANCELLED = "simulation.run.cancelled"
CONSUMED = [USER_DEACTIVATED, RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED]

log = logging.getLogger("ampflux.project.consumers")
_inbox = Inbox(event_tables)


async def on_user_deactivated(session: AsyncSession, envelope: EventEnvelope) -> None:
    payload = parse_payload(envelope)
    assert isinstance(payload, UserDeactivated)
    departures = await remove_user_everywhere(session, company_id=payload.company_id, user_id=payload.user_id)
    log.info(
        "user %s deactivated: removed from %d project(s), %d new owner(s)",
        payload.user_id,
        len(departures),
        sum(1 for d in departures if d.promoted_user_id),
    )


async def on_run_finished(session: AsyncSession, envelope: EventEnvelope) -> None:
    """A finished simulation run becomes its version's latest study (if it is the newest)."""
    match parse_payload(envelope):
        case SimulationRunCompleted() as done:
            run = FinishedRun(
                run_id=done.run_id,
                company_id=done.company_id,
                circuit_version_id=done.circuit_version_id,
                status="succeeded",
                finished_at=_utc(done.finished_at),
                solve_seconds=done.solve_seconds,
                bus_count=done.bus_count,
            )
        case SimulationRunFailed() as failed:
            run = FinishedRun(
                run_id=failed.run_id,
                company_id=failed.company_id,
                circuit_version_id=failed.circuit_version_id,
                status="failed",
                finished_at=_utc(failed.finished_at),
                error_code=failed.error_code,
                detail=failed.detail,
            )
        case other:  # only the two run types are routed here; anything else will never fit
            raise PoisonEventError(f"not a finished run: {type(other).__name__}")
    await record_finished_run(session, run)


async def on_run_cancelled(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Who stopped a study, in the audit trail of its project (owners and admins read it)."""
    payload = parse_payload(envelope)
    if not isinstance(payload, SimulationRunCancelled):
        raise PoisonEventError(f"not a cancelled run: {type(payload).__name__}")
    audit.record(
        session,
        company_id=payload.company_id,
        project_id=payload.project_id,
        actor_id=payload.cancelled_by,
        action="simulation.cancelled",
        run_id=str(payload.run_id),
        circuit_version_id=str(payload.circuit_version_id) if payload.circuit_version_id else None,
    )


def _utc(at: datetime) -> datetime:
    # Stored times are compared to decide which run is newer: one time zone for all.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


async def subscribe_consumers(app: FastAPI) -> None:
    """Startup hook: bind the service's durable queue and handle each event once."""
    # Consumer names key the inbox: keep them stable, or handled events count as new.
    studies = consume_once(app.state.db, _inbox, "project.version-studies", on_run_finished)
    handlers = {
        USER_DEACTIVATED: consume_once(app.state.db, _inbox, "project.user-deactivated", on_user_deactivated),
        RUN_COMPLETED: studies,
        RUN_FAILED: studies,
        RUN_CANCELLED: consume_once(app.state.db, _inbox, "project.run-cancelled-audit", on_run_cancelled),
    }

    async def handle(envelope: EventEnvelope) -> None:
        handler = handlers.get(envelope.type)
        if handler is None:  # a binding this release does not handle (e.g. after a rollback)
            log.warning("no handler for %s %s; dropped", envelope.type, envelope.id)
            return
        # Commits (or raises, and the bus redelivers); events the handler wrote (member.removed)
        # wake the relay from the unit of work itself.
        await handler(envelope)

    await app.state.bus.subscribe(app.state.settings.events_queue, CONSUMED, handle)
