"""Request and response bodies of the project service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ampflux_shared.circuit import DocumentObject

from .domain.access import ProjectRole

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Message = Annotated[str, StringConstraints(max_length=2000)]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- projects ---------------------------------------------------------------------------


class ProjectCreate(BaseModel):
    name: Name
    description: Description = ""


class ProjectUpdate(BaseModel):
    name: Name | None = None
    description: Description | None = None


class ProjectRead(_Read):
    id: uuid.UUID
    company_id: uuid.UUID
    name: str
    description: str
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    archived: bool
    archived_at: datetime | None
    # The caller's role in the project: their membership, or "owner" for a company admin.
    my_role: ProjectRole | None = None


# --- members ----------------------------------------------------------------------------


class MemberAdd(BaseModel):
    user_id: uuid.UUID
    role: ProjectRole


class MemberUpdate(BaseModel):
    role: ProjectRole


class MemberRead(_Read):
    user_id: uuid.UUID
    role: ProjectRole
    added_by: uuid.UUID | None
    added_at: datetime


# --- circuits and versions --------------------------------------------------------------


class CircuitCreate(BaseModel):
    name: Name
    description: Description = ""
    # Optional first content: saved as version 1 in the same request.
    document: DocumentObject | None = None
    message: Message = ""


class CircuitUpdate(BaseModel):
    name: Name | None = None
    description: Description | None = None


class CircuitRead(_Read):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    latest_version: int | None = Field(description="number of the newest version; null when there is none")


class VersionSave(BaseModel):
    document: DocumentObject
    message: Message = ""


class VersionRestore(BaseModel):
    message: Message | None = None


class StudyRead(_Read):
    """The latest finished simulation run of a version, as the simulation service reported it."""

    run_id: uuid.UUID
    status: Literal["succeeded", "failed"]
    finished_at: datetime
    solve_seconds: float | None = Field(description="solver time; null for a failed run")
    bus_count: int | None = Field(description="buses solved; null for a failed run")
    error_code: str | None = Field(description="why the run failed (e.g. solver_diverged); null if it succeeded")
    detail: str | None = Field(description="failure text; null if it succeeded")
    updated_at: datetime = Field(description="when the project service recorded this run")


class VersionSummary(_Read):
    id: uuid.UUID
    circuit_id: uuid.UUID
    number: int
    author_id: uuid.UUID | None
    message: str
    created_at: datetime
    content_hash: str = Field(description="sha256 of the document's canonical JSON")
    restored_from: int | None
    latest_study: StudyRead | None = Field(
        default=None, description="the latest finished simulation run of this version; null when none"
    )


class VersionRead(VersionSummary):
    document: dict[str, Any]


class CircuitWithVersion(CircuitRead):
    version: VersionSummary | None = None


class FieldChangeRead(_Read):
    path: str
    old: Any = None
    new: Any = None


class ElementChangeRead(_Read):
    id: str
    changes: list[FieldChangeRead]


class ElementListDiffRead(_Read):
    added: list[str]
    removed: list[str]
    changed: list[ElementChangeRead]


class VersionDiff(BaseModel):
    circuit_id: uuid.UUID
    from_version: int
    to_version: int
    identical: bool
    document: list[FieldChangeRead] = Field(description="changes outside the element lists (study, title...)")
    elements: dict[str, ElementListDiffRead] = Field(description="per element list, only lists that changed")


# --- audit ------------------------------------------------------------------------------


class AuditEntryRead(_Read):
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None = Field(description="null when the system acted on an event")
    action: str
    project_id: uuid.UUID
    circuit_id: uuid.UUID | None
    version_number: int | None
    details: dict[str, Any]
    request_id: str | None
