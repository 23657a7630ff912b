"""Tables of the simulation service: study runs, their inputs and their results.

Results are stored one row per (run, fault, case): what is per result set (quantities,
omitted, branch contributions, duty) as JSON, and the set's buses with their trails as one
compressed document (`domain/packed.py`), written in one INSERT. The API decodes a set to
page, filter, download and compare it, and keeps recently decoded sets in memory. Until
migration 0005 the buses were one row each (`study_bus_results`): 6,000 rows per 3,000-bus
run, whose ingestion cost PostgreSQL more CPU than the rest of storing the run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ampflux_shared.db import JSONDocument, UTCDateTime, new_metadata, utcnow
from ampflux_shared.events import EventTables

metadata = new_metadata()
event_tables = EventTables(metadata)

# JSONB on PostgreSQL, JSON elsewhere; aware UTC datetimes on every backend (shared types).
JSONValue = JSONDocument


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class Base(DeclarativeBase):
    # Its own registry: no name clashes with other services sharing the embedded process.
    metadata = metadata


class StudyRun(Base):
    __tablename__ = "study_runs"
    __table_args__ = (
        # A retried POST with the same Idempotency-Key finds the run it created.
        UniqueConstraint("company_id", "idempotency_key", name="uq_study_runs_company_idempotency_key"),
        Index("ix_study_runs_company_project", "company_id", "project_id", "queued_at"),
        Index("ix_study_runs_status", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Null for an inline document (a quick what-if that is not a saved version).
    circuit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    circuit_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    circuit_version_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    document_id: Mapped[str] = mapped_column(String(200))
    document_sha256: Mapped[str] = mapped_column(String(64))
    bus_count: Mapped[int] = mapped_column(Integer)
    options: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Which worker (host:pid) last took the job: for operators following a run.
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Its last heartbeat while solving (jobs/heartbeat.py): how a dead worker's run shows.
    worker_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    solve_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def run_status(self) -> RunStatus:
        return RunStatus(self.status)

    @property
    def queue_wait_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return max((self.started_at - self.queued_at).total_seconds(), 0.0)


class StudyInput(Base):
    """The exact document a run solves (gzip JSON), kept apart so run lists never load it.

    Snapshotting it at submit time means the worker needs neither the project service nor
    the caller's (short-lived) token, and a run stays reproducible.
    """

    __tablename__ = "study_inputs"

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("study_runs.id", ondelete="CASCADE"), primary_key=True)
    document_gz: Mapped[bytes] = mapped_column(LargeBinary)
    # The validation rules (`ampflux_shared.circuit.rules.rules_digest()`) the document passed at submit:
    # a solve under the same rules skips the checks that cannot find anything new.
    validated_rules: Mapped[str | None] = mapped_column(String(64), nullable=True)


class StudyResultSet(Base):
    """One (fault, case) of a finished run: what it reports, what is per set, and its buses."""

    __tablename__ = "study_result_sets"

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("study_runs.id", ondelete="CASCADE"), primary_key=True)
    fault: Mapped[str] = mapped_column(String(8), primary_key=True)
    case: Mapped[str] = mapped_column(String(8), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    quantities: Mapped[list[str]] = mapped_column(JSONValue)
    # omitted, branches, voltages: whatever the set carries besides buses and trail.
    extra: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    # How many buses `buses_z` holds: pages are counted and placed without decoding it.
    bus_count: Mapped[int] = mapped_column(Integer)
    # The set's buses, values and trails, zstd-compressed JSON (domain/packed.py). Deferred:
    # listing a run's sets never loads them; storage EXTERNAL on PostgreSQL (migration 0005),
    # so the database does not try to compress them again.
    buses_z: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
