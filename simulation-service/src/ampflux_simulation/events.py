"""The events the simulation service publishes, always through its outbox.

`simulation.run.queued` doubles as the job message: the work queue is bound to it, so the
outbox row written with the queued run is the enqueue (see `jobs.py`).
"""

from __future__ import annotations

import uuid

from ampflux_shared.events import (
    EventEnvelope,
    SimulationRunCancelled,
    SimulationRunCompleted,
    SimulationRunFailed,
    SimulationRunQueued,
    make_event,
)
from ampflux_shared.observability import current_request_id

from .models import StudyRun

PRODUCER = "simulation-service"
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


def run_queued(run: StudyRun) -> EventEnvelope:
    payload = SimulationRunQueued(
        run_id=run.id,
        company_id=run.company_id,
        project_id=run.project_id,
        circuit_version_id=version_id_of(run),
        requested_by=run.requested_by,
    )
    return _envelope(RUN_QUEUED, payload, run)


def run_completed(run: StudyRun) -> EventEnvelope:
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
    return _envelope(RUN_COMPLETED, payload, run, actor=None)


def run_failed(run: StudyRun) -> EventEnvelope:
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
    return _envelope(RUN_FAILED, payload, run, actor=None)


def run_cancelled(run: StudyRun, cancelled_by: uuid.UUID | None) -> EventEnvelope:
    assert run.finished_at is not None
    payload = SimulationRunCancelled(
        run_id=run.id,
        company_id=run.company_id,
        project_id=run.project_id,
        circuit_version_id=version_id_of(run),
        cancelled_at=run.finished_at,
        cancelled_by=cancelled_by,
    )
    return _envelope(RUN_CANCELLED, payload, run, actor=cancelled_by)


def _envelope(type_: str, payload, run: StudyRun, *, actor: uuid.UUID | bool | None = True) -> EventEnvelope:
    return make_event(
        type_,
        payload,
        producer=PRODUCER,
        company_id=run.company_id,
        # True: the requester; a UUID: that user; None: the system (a worker) acted.
        actor_id=run.requested_by if actor is True else (actor if isinstance(actor, uuid.UUID) else None),
        request_id=current_request_id(),
    )
