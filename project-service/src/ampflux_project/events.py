"""Events the project service publishes, each written to the outbox in the transaction of
the change it announces: `project.project.created`, `project.project.deleted`,
`project.member.added`, `project.member.removed`, `project.circuit_version.created`.

What it consumes lives in `consumers.py`.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import (
    CircuitVersionCreated,
    EventPublisher,
    ProjectCreated,
    ProjectDeleted,
    ProjectMemberAdded,
    ProjectMemberRemoved,
)

from .models import Circuit, CircuitVersion, Project, ProjectMember, event_tables

publisher = EventPublisher("project", event_tables)


async def project_created(session: AsyncSession, project: Project, *, actor_id: uuid.UUID) -> None:
    # The creator is the first owner (the matching member.added follows).
    payload = ProjectCreated(project_id=project.id, company_id=project.company_id, name=project.name, owner_id=actor_id)
    await publisher.emit(session, "project.project.created", payload, company_id=project.company_id, actor_id=actor_id)


async def project_deleted(session: AsyncSession, project: Project, *, actor_id: uuid.UUID) -> None:
    payload = ProjectDeleted(project_id=project.id, company_id=project.company_id)
    await publisher.emit(session, "project.project.deleted", payload, company_id=project.company_id, actor_id=actor_id)


async def member_added(
    session: AsyncSession, project: Project, member: ProjectMember, *, actor_id: uuid.UUID | None
) -> None:
    payload = ProjectMemberAdded(
        project_id=project.id, company_id=project.company_id, user_id=member.user_id, role=member.role
    )
    await publisher.emit(session, "project.member.added", payload, company_id=project.company_id, actor_id=actor_id)


async def member_removed(
    session: AsyncSession, project: Project, user_id: uuid.UUID, *, actor_id: uuid.UUID | None
) -> None:
    payload = ProjectMemberRemoved(project_id=project.id, company_id=project.company_id, user_id=user_id)
    await publisher.emit(session, "project.member.removed", payload, company_id=project.company_id, actor_id=actor_id)


async def circuit_version_created(
    session: AsyncSession, project: Project, circuit: Circuit, version: CircuitVersion, *, actor_id: uuid.UUID | None
) -> None:
    payload = CircuitVersionCreated(
        project_id=project.id,
        company_id=project.company_id,
        circuit_id=circuit.id,
        circuit_version_id=version.id,
        number=version.number,
        content_sha256=version.content_hash,
    )
    await publisher.emit(
        session, "project.circuit_version.created", payload, company_id=project.company_id, actor_id=actor_id
    )
