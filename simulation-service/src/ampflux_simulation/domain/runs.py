"""Study runs: submit (idempotently), read, list, cancel, and the worker's state changes.

Functions take the caller's session and never commit: the request or the job handler owns
the transaction, and the events written here go out through the outbox with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import UTCDateTime
from ampflux_shared.errors import conflict, not_found, unprocessable
from ampflux_shared.events import Outbox
from ampflux_shared.pagination import PageParams, Rows, paginate

from .. import events
from ..models import RunStatus, StudyInput, StudyRun, utcnow
from .inputs import StudyInput as PreparedInput
from .inputs import compress_document

# The statuses a run can still leave: a claim, a cancel or a dead-lettered job's failure applies from these.
OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class Submission:
    company_id: uuid.UUID
    project_id: uuid.UUID
    requested_by: uuid.UUID | None
    circuit_id: uuid.UUID | None
    circuit_version_id: uuid.UUID | None
    circuit_version_number: int | None
    options: dict[str, object]
    idempotency_key: str | None = None
    request_sha256: str | None = None


async def find_by_idempotency_key(
    session: AsyncSession, company_id: uuid.UUID, key: str, request_sha256: str | None
) -> StudyRun | None:
    """The run an earlier request with `key` created; 422 if that request was a different one."""
    run = await session.scalar(
        select(StudyRun).where(StudyRun.company_id == company_id, StudyRun.idempotency_key == key)
    )
    if run is not None and request_sha256 is not None and run.request_sha256 != request_sha256:
        raise unprocessable(
            "this Idempotency-Key was already used for a different request", slug="idempotency-key-reused"
        )
    return run


async def submit_run(session: AsyncSession, submission: Submission, study: PreparedInput) -> tuple[StudyRun, bool]:
    """(run, created). Writes the queued run, its input and the queued event (= the job).

    A concurrent twin with the same Idempotency-Key loses on the unique constraint and
    gets the winner's run, so a key never yields two runs.
    """
    if submission.idempotency_key:
        existing = await find_by_idempotency_key(
            session, submission.company_id, submission.idempotency_key, submission.request_sha256
        )
        if existing is not None:
            return existing, False
    run = StudyRun(
        id=uuid.uuid4(),
        company_id=submission.company_id,
        project_id=submission.project_id,
        circuit_id=submission.circuit_id,
        circuit_version_id=submission.circuit_version_id,
        circuit_version_number=submission.circuit_version_number,
        document_id=study.document_id[:200],
        document_sha256=study.sha256,
        bus_count=study.bus_count,
        options=submission.options,
        requested_by=submission.requested_by,
        idempotency_key=submission.idempotency_key,
        request_sha256=submission.request_sha256,
        status=RunStatus.QUEUED,
        progress=0.0,
        attempts=0,
        queued_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(run)
            await session.flush()
    except IntegrityError:
        if not submission.idempotency_key:
            raise
        existing = await find_by_idempotency_key(
            session, submission.company_id, submission.idempotency_key, submission.request_sha256
        )
        if existing is None:
            raise
        return existing, False
    # gzip of the canonical document: CPU work, off the event loop.
    document_gz = await anyio.to_thread.run_sync(compress_document, study.document)
    session.add(StudyInput(run_id=run.id, document_gz=document_gz, validated_rules=study.validated_rules or None))
    await events.run_queued(session, run)
    await session.flush()
    return run, True


async def get_run(session: AsyncSession, company_id: uuid.UUID, run_id: uuid.UUID) -> StudyRun:
    """The company's run; another company's run is simply not found."""
    run = await session.scalar(select(StudyRun).where(StudyRun.id == run_id, StudyRun.company_id == company_id))
    if run is None:
        raise not_found("simulation run")
    return run


async def list_runs(
    session: AsyncSession,
    company_id: uuid.UUID,
    *,
    project_id: uuid.UUID | None,
    circuit_id: uuid.UUID | None,
    circuit_version_id: uuid.UUID | None,
    status: RunStatus | None,
    paging: PageParams,
    requested_by: uuid.UUID | None = None,
) -> Rows[StudyRun]:
    query = select(StudyRun).where(StudyRun.company_id == company_id)
    if project_id is not None:
        query = query.where(StudyRun.project_id == project_id)
    if requested_by is not None:
        query = query.where(StudyRun.requested_by == requested_by)
    if circuit_id is not None:
        query = query.where(StudyRun.circuit_id == circuit_id)
    if circuit_version_id is not None:
        query = query.where(StudyRun.circuit_version_id == circuit_version_id)
    if status is not None:
        query = query.where(StudyRun.status == status)
    return await paginate(session, query.order_by(StudyRun.queued_at.desc(), StudyRun.id), paging)


async def _move(session: AsyncSession, run: StudyRun, from_statuses: Collection[RunStatus], **values: Any) -> bool:
    """Write `values` to the run only if its status is still one of `from_statuses`, in one
    conditional UPDATE; `run` then holds the row as it is. True if the run moved.

    Every state change of a run goes through here, never a read followed by a plain write: a
    status read before the write can be stale by the time of the write. On SQLite
    `SELECT ... FOR UPDATE` locks nothing and the driver begins the transaction only at the
    first write, so a cancel committed between a worker's read and its write was overwritten
    (the run went back to `running`, and the cancelled study was solved). The UPDATE's own
    WHERE decides instead: SQLite evaluates it under the write lock, and PostgreSQL waits for
    a concurrent writer of the row and evaluates it again on the row that writer committed.
    Whichever change commits first stays; the later one finds the row moved and writes nothing.
    """
    # RETURNING loads the moved row into `run` in the same round trip; only a run that had
    # moved already (no row returned) is read again.
    moved = await session.scalar(
        update(StudyRun)
        .where(StudyRun.id == run.id, StudyRun.status.in_(list(from_statuses)))
        .values(**values)
        .returning(StudyRun)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if moved is None:
        await session.refresh(run)
        return False
    return True


async def cancel_run(
    session: AsyncSession, company_id: uuid.UUID, run_id: uuid.UUID, *, cancelled_by: uuid.UUID | None
) -> StudyRun:
    """Queued or running → cancelled, with its event in the same transaction. A worker drops
    a cancelled job before solving and stops a running solve when it sees the change. A run
    that finished meanwhile (even after this read it) is a 409; one already cancelled is
    returned as it is, without a second event."""
    run = await get_run(session, company_id, run_id)
    # Who stopped it stays on the run (and goes with the event as its actor).
    detail = f"cancelled by user {cancelled_by}" if cancelled_by else "cancelled"
    if not run.run_status.is_terminal and await _move(
        session,
        run,
        OPEN_STATUSES,
        status=RunStatus.CANCELLED,
        finished_at=utcnow(),
        error_code="cancelled",
        error_detail=detail,
    ):
        await events.run_cancelled(session, run, cancelled_by)
        return run
    if run.run_status is RunStatus.CANCELLED:
        return run
    raise conflict(f"the run has already {run.status}; only queued or running runs can be cancelled")


# --- the worker's side --------------------------------------------------------------------


async def load_for_job(session: AsyncSession, run_id: uuid.UUID) -> StudyRun | None:
    """The run a job names, as committed now (any company: the job is trusted). Not locked:
    what the worker then changes, it changes only from the status it expects (`claim_run`,
    `mark_succeeded`, `mark_failed`)."""
    return await session.scalar(select(StudyRun).where(StudyRun.id == run_id).execution_options(populate_existing=True))


async def load_input(session: AsyncSession, run_id: uuid.UUID) -> tuple[bytes, str | None]:
    """The stored document (gzip JSON) and the validation rules it passed at submit."""
    row = (
        await session.execute(
            select(StudyInput.document_gz, StudyInput.validated_rules).where(StudyInput.run_id == run_id)
        )
    ).one_or_none()
    if row is None:
        raise LookupError(f"run {run_id} has no stored input")
    return row.document_gz, row.validated_rules


async def claim_run(session: AsyncSession, run: StudyRun, worker_id: str) -> bool:
    """Queued, or running (a redelivery after its worker died) → running on this worker.
    False, writing nothing, if the run was cancelled or finished since it was read; `run`
    then shows what it became."""
    now = utcnow()
    return await _move(
        session,
        run,
        OPEN_STATUSES,
        status=RunStatus.RUNNING,
        worker_id=worker_id[:200],
        worker_heartbeat_at=now,
        # Queue wait counts from submit to the first start; a redelivery after a crash keeps it.
        started_at=func.coalesce(StudyRun.started_at, literal(now, UTCDateTime())),
        attempts=StudyRun.attempts + 1,
        progress=0.0,
    )


async def set_progress(session: AsyncSession, run_id: uuid.UUID, progress: float) -> None:
    await session.execute(
        update(StudyRun)
        .where(StudyRun.id == run_id, StudyRun.status == RunStatus.RUNNING)
        .values(progress=min(max(progress, 0.0), 1.0))
    )


async def current_status(session: AsyncSession, run_id: uuid.UUID) -> RunStatus | None:
    status = await session.scalar(select(StudyRun.status).where(StudyRun.id == run_id))
    return RunStatus(status) if status is not None else None


# `_outbox` is not used (the events module's publisher writes the outbox); it stays in the
# worker-side signatures until the job runner stops passing its relay's outbox.
async def mark_succeeded(
    session: AsyncSession,
    _outbox: Outbox | None,
    run: StudyRun,
    *,
    solve_seconds: float,
    finished_at: datetime | None = None,
) -> bool:
    """Running → succeeded, with its event. False, writing nothing, if the run is no longer
    running (cancelled meanwhile, or a twin delivery finished it first)."""
    if not await _move(
        session,
        run,
        (RunStatus.RUNNING,),
        status=RunStatus.SUCCEEDED,
        progress=1.0,
        finished_at=finished_at or utcnow(),
        solve_seconds=solve_seconds,
        error_code=None,
        error_detail=None,
    ):
        return False
    await events.run_completed(session, run)
    return True


async def mark_failed(
    session: AsyncSession,
    _outbox: Outbox | None,
    run: StudyRun,
    *,
    code: str,
    detail: str,
    from_statuses: Collection[RunStatus] = (RunStatus.RUNNING,),
) -> bool:
    """Running (or any of `from_statuses`) → failed, with its event. False, writing nothing,
    if the run has left those statuses."""
    if not await _move(
        session,
        run,
        from_statuses,
        status=RunStatus.FAILED,
        finished_at=utcnow(),
        error_code=code[:64],
        error_detail=detail[:4000],
    ):
        return False
    await events.run_failed(session, run)
    return True


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(StudyRun.status, func.count()).group_by(StudyRun.status))
    counts = {s.value: 0 for s in RunStatus}
    counts.update({status: int(n) for status, n in rows.all()})
    return counts
