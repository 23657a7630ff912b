"""Tables of the project service: projects, members, circuits, circuit versions, audit.

Every project row carries `company_id`; members, circuits and versions hang off a
project and are reached only through it, so a company filter on the project guards them.
A version's latest study (`version_studies`) is kept beside it, so versions stay immutable.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ampflux_shared.db import JSONDocument, UTCDateTime, new_metadata, utcnow
from ampflux_shared.events import EventTables

metadata = new_metadata()


class Base(DeclarativeBase):
    # Its own registry: no name clashes with other services sharing the embedded process.
    metadata = metadata


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class ProjectMember(Base):
    __tablename__ = "project_members"
    __table_args__ = (Index("ix_project_members_user_id", "user_id"),)

    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Circuit(Base):
    __tablename__ = "circuits"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Number of the newest version; 0 while the circuit has none. Saves lock the circuit
    # row and bump this, which serialises concurrent saves of one circuit.
    latest_version: Mapped[int] = mapped_column(default=0)


class CircuitVersion(Base):
    """An immutable snapshot of a circuit document; rows are only ever inserted."""

    __tablename__ = "circuit_versions"
    __table_args__ = (UniqueConstraint("circuit_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    circuit_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("circuits.id", ondelete="CASCADE"))
    number: Mapped[int]
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    content_hash: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    restored_from: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # lazy="raise": async sessions cannot lazy-load, so every query that serves versions
    # loads the study explicitly (see `domain.versions.WITH_STUDY`); a forgotten option
    # fails loudly instead of issuing one query per version. The database cascades deletes.
    latest_study: Mapped[VersionStudy | None] = relationship(lazy="raise", passive_deletes=True)


class VersionStudy(Base):
    """The latest finished simulation run of one circuit version (from simulation events).

    One row per version, overwritten only by a run that finished later, so a late
    redelivery of an older run never hides a newer result.
    """

    __tablename__ = "version_studies"

    circuit_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("circuit_versions.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16))  # "succeeded" | "failed"
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Filled for a succeeded run only:
    solve_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    bus_count: Mapped[int | None] = mapped_column(nullable=True)
    # Filled for a failed run only:
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what to which project, circuit or version.

    No foreign key to `projects`: the record of a deletion outlives the project.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_project_at", "project_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    circuit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    version_number: Mapped[int | None] = mapped_column(nullable=True)
    # None when the system acted (e.g. on an `auth.user.deactivated` event).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The outbox (events this service publishes) and inbox (events it has handled) live in
# this service's database, so they commit or roll back with the changes they describe.
event_tables = EventTables(metadata)
