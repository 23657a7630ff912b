"""Shaping stored runs into response bodies."""

from __future__ import annotations

from ..jobs.heartbeat import is_stale
from ..models import StudyRun
from ..schemas import RunError, SimulationRead, Timings


def run_read(run: StudyRun) -> SimulationRead:
    return SimulationRead(
        id=run.id,
        company_id=run.company_id,
        project_id=run.project_id,
        circuit_id=run.circuit_id,
        circuit_version_id=run.circuit_version_id,
        circuit_version_number=run.circuit_version_number,
        document_id=run.document_id,
        document_sha256=run.document_sha256,
        bus_count=run.bus_count,
        options=run.options or {},
        status=run.run_status,
        progress=run.progress,
        attempts=run.attempts,
        worker_id=run.worker_id,
        worker_heartbeat_at=run.worker_heartbeat_at,
        worker_stale=is_stale(run),
        requested_by=run.requested_by,
        timings=Timings(
            queued_at=run.queued_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            queue_wait_seconds=run.queue_wait_seconds,
            solve_seconds=run.solve_seconds,
        ),
        error=RunError(code=run.error_code, detail=run.error_detail or "") if run.error_code else None,
    )
