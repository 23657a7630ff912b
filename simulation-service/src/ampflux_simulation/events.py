"""The events the simulation service publishes, always through its outbox.

`simulation.run.queued` doubles as the job message: the work queue is bound to it, so the
outbox row written with the queued run is the enqueue (see `jobs/`). The simulation
service consumes no events of other services.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import (
    EventPublisher,
    SimulationRunCancelled,
    SimulationRunCompleted,
    SimulationRunFailed,
    SimulationRunQueued,
)

from .models import StudyRun, event_tables

publisher = EventPublisher("simulation", event_tables)

RUN_QUEUED = "simulation.run.queued"
RUN_COMPLETED = "simulation.run.completed"
RUN_FAILED = "simulation.run.failed"
RUN_CANCELLED = "simulation.run.cancelled"

# The catalog requires a circuit version id; an inline what-if has none, so it gets a
# stable name derived from its content (never an id the project service knows).
INLINE_DOCUMENT_NAMESPACE = uuid.UUID("7d0c5a52-3f9e-4c1b-9a57-2f1f0b7e6a11")


def version_id_of(run: StudyRun) -> uuid.UUID:
    if run.circuit_version_id is not None:
        return run.circuit_version_id
    return uuid.uuid5(INLINE_DOCUMENT_NAMESPACE, run.document_sha256)


async def run_queued(session: AsyncSession, run: StudyRun) -> None:
    payload = SimulationRunQueued(
        run_id=run.id,
        company_id=run.company_id,
        project_id=run.project_id,
        circuit_version_id=version_id_of(run),
        requested_by=run.requested_by,
    )
    await publisher.emit(session, RUN_QUEUED, payload, company_id=run.company_id, actor_id=run.requested_by)


async def run_completed(session: AsyncSession, run: StudyRun) -> None:
    assert run.finished_at is not None
    payload = SimulationRunCompleted(
        run_id=run.id,
        company_id=run.company_id,
        project_id=run.project_id,
        circuit_version_id=version_id_of(run),
        finished_at=run.finished_at,
        solve_seconds=run.solve_seconds or 0.0,
        bus_count=run.bus_count,
    )
    # No actor: the system (a worker) finished it.
    await publisher.emit(session, RUN_COMPLETED, payload, company_id=run.company_id, actor_id=None)


async def run_failed(session: AsyncSession, run: StudyRun) -> None:
    assert run.finished_at is not None
    payload = SimulationRunFailed(
        run_id=run.id,
        company_id=run.company_id,
        project_id=run.project_id,
        circuit_version_id=version_id_of(run),
        finished_at=run.finished_at,
        error_code=run.error_code or "failed",
        detail=run.error_detail or "",
    )
    await publisher.emit(session, RUN_FAILED, payload, company_id=run.company_id, actor_id=None)


async def run_cancelled(session: AsyncSession, run: StudyRun, cancelled_by: uuid.UUID | None) -> None:
    assert run.finished_at is not None
    payload = SimulationRunCancelled(
        run_id=run.id,
        company_id=run.company_id,
        project_id=run.project_id,
        circuit_version_id=version_id_of(run),
        cancelled_at=run.finished_at,
        cancelled_by=cancelled_by,
    )
    await publisher.emit(session, RUN_CANCELLED, payload, company_id=run.company_id, actor_id=cancelled_by)
