"""Projects: create, find, list, rename, archive and delete, always within one company."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from .. import events
from ..models import Project, ProjectMember
from . import audit
from .access import ProjectAccess, ProjectRole, require_project_creator
from .changes import apply_changes
from .members import add_member_row
from .queries import contains_pattern, flush_or_conflict


async def create_project(session: AsyncSession, principal: Principal, *, name: str, description: str) -> Project:
    """A new project of the caller's company, with the caller as its owner."""
    require_project_creator(principal)
    now = utcnow()
    project = Project(
        id=uuid.uuid4(),
        company_id=principal.company_id,
        name=name,
        description=description,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(project)
    await flush_or_conflict(session, f"a project named {name!r} already exists in your company")
    member = add_member_row(
        session, project, user_id=principal.user_id, role=ProjectRole.owner, added_by=principal.user_id
    )
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=principal.user_id,
        action="project.created",
        name=name,
    )
    await events.project_created(session, project, actor_id=principal.user_id)
    await events.member_added(session, project, member, actor_id=principal.user_id)
    return project


async def list_projects(
    session: AsyncSession,
    principal: Principal,
    *,
    paging: PageParams,
    search: str | None = None,
    include_archived: bool = False,
) -> Rows[tuple[Project, str | None]]:
    """Projects the caller may see: all of the company for an admin, else those they are a member of.

    Each item is (project, the caller's membership role or None).
    """
    my_role = (
        select(ProjectMember.role)
        .where(ProjectMember.project_id == Project.id, ProjectMember.user_id == principal.user_id)
        .scalar_subquery()
    )
    query = select(Project, my_role).where(Project.company_id == principal.company_id)
    if not principal.is_admin:
        query = query.where(
            exists().where(ProjectMember.project_id == Project.id, ProjectMember.user_id == principal.user_id)
        )
    if search:
        query = query.where(Project.name.ilike(contains_pattern(search), escape="\\"))
    if not include_archived:
        query = query.where(Project.archived_at.is_(None))
    return await paginate(session, query.order_by(Project.name, Project.id), paging)


async def update_project(
    session: AsyncSession, access: ProjectAccess, *, name: str | None, description: str | None
) -> Project:
    project = access.project
    changed = apply_changes(project, name=name, description=description)
    if changed:
        project.updated_at = utcnow()
        await flush_or_conflict(session, f"a project named {project.name!r} already exists in your company")
        audit.record(
            session,
            company_id=project.company_id,
            project_id=project.id,
            actor_id=access.principal.user_id,
            action="project.updated",
            changes=changed,
        )
    return project


def set_archived(session: AsyncSession, access: ProjectAccess, archived: bool) -> Project:
    """Archive (read-only, hidden from default lists) or bring back; idempotent."""
    project = access.project
    if project.archived == archived:
        return project
    project.archived_at = utcnow() if archived else None
    project.updated_at = utcnow()
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=access.principal.user_id,
        action="project.archived" if archived else "project.unarchived",
    )
    return project


async def delete_project(session: AsyncSession, access: ProjectAccess) -> None:
    """Delete the project with its members, circuits and versions; the audit trail stays."""
    project = access.project
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=access.principal.user_id,
        action="project.deleted",
        name=project.name,
    )
    await events.project_deleted(session, project, actor_id=access.principal.user_id)
    await session.delete(project)
    await session.flush()
