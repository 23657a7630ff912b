"""Project members and their roles; a project always keeps at least one owner.

Every function here that changes owners expects the project row to be locked
(`project_access(..., lock=True)`), so two concurrent demotions cannot both pass the
"another owner remains" check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import conflict, forbidden, not_found
from ampflux_shared.pagination import PageParams, Rows, paginate

from .. import events
from ..models import Project, ProjectMember
from . import audit
from .access import ProjectAccess, ProjectRole


def add_member_row(
    session: AsyncSession, project: Project, *, user_id: uuid.UUID, role: ProjectRole, added_by: uuid.UUID | None
) -> ProjectMember:
    member = ProjectMember(
        project_id=project.id, user_id=user_id, role=role.value, added_by=added_by, added_at=utcnow()
    )
    session.add(member)
    return member


async def list_members(session: AsyncSession, project_id: uuid.UUID, paging: PageParams) -> Rows[ProjectMember]:
    query = select(ProjectMember).where(ProjectMember.project_id == project_id)
    return await paginate(session, query.order_by(ProjectMember.added_at, ProjectMember.user_id), paging)


async def add_member(
    session: AsyncSession, access: ProjectAccess, *, user_id: uuid.UUID, role: ProjectRole
) -> ProjectMember:
    project = access.project
    if await _get(session, project.id, user_id) is not None:
        raise conflict("this user is already a member of the project; change their role instead")
    actor = access.principal.user_id
    member = add_member_row(session, project, user_id=user_id, role=role, added_by=actor)
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=actor,
        action="member.added",
        user_id=str(user_id),
        role=role.value,
    )
    await events.member_added(session, project, member, actor_id=actor)
    return member


async def change_role(
    session: AsyncSession, access: ProjectAccess, *, user_id: uuid.UUID, role: ProjectRole
) -> ProjectMember:
    project = access.project
    member = await _require(session, project.id, user_id)
    if member.role == role.value:
        return member
    if member.role == ProjectRole.owner and await _owner_count(session, project.id) <= 1:
        raise last_owner()
    old = member.role
    member.role = role.value
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=access.principal.user_id,
        action="member.role_changed",
        user_id=str(user_id),
        old_role=old,
        new_role=role.value,
    )
    return member


async def remove_member(session: AsyncSession, access: ProjectAccess, *, user_id: uuid.UUID) -> None:
    """Owners (and company admins) remove anyone; any member may leave on their own."""
    project = access.project
    if user_id != access.principal.user_id and not access.allows(ProjectRole.owner):
        raise forbidden("only the project's owners can remove other members")
    member = await _require(session, project.id, user_id)
    if member.role == ProjectRole.owner and await _owner_count(session, project.id) <= 1:
        raise last_owner()
    await _delete(session, project, member, actor_id=access.principal.user_id, reason=None)


@dataclass(frozen=True)
class Departure:
    project_id: uuid.UUID
    promoted_user_id: uuid.UUID | None


async def remove_user_everywhere(
    session: AsyncSession, *, company_id: uuid.UUID, user_id: uuid.UUID
) -> list[Departure]:
    """Take a deactivated user out of every project of their company.

    Where they were the last owner, the longest-standing editor becomes owner, else the
    longest-standing viewer. Company admins are not candidates: their roles live in the
    auth service's tokens, and they already act as owners of every project anyway. A
    project left with no members at all stays manageable by the company admins.
    """
    projects = (
        await session.scalars(
            select(Project)
            .join(ProjectMember, ProjectMember.project_id == Project.id)
            .where(Project.company_id == company_id, ProjectMember.user_id == user_id)
            .order_by(Project.id)
            .with_for_update(of=Project)
        )
    ).all()
    departures = []
    for project in projects:
        member = await _require(session, project.id, user_id)
        promoted = None
        if member.role == ProjectRole.owner and await _owner_count(session, project.id) <= 1:
            promoted = await _promote_successor(session, project, excluding=user_id)
        await _delete(session, project, member, actor_id=None, reason="user_deactivated")
        departures.append(Departure(project.id, promoted.user_id if promoted else None))
    return departures


async def _promote_successor(session: AsyncSession, project: Project, *, excluding: uuid.UUID) -> ProjectMember | None:
    for role in (ProjectRole.editor, ProjectRole.viewer):
        successor = await session.scalar(
            select(ProjectMember)
            .where(
                ProjectMember.project_id == project.id,
                ProjectMember.role == role.value,
                ProjectMember.user_id != excluding,
            )
            .order_by(ProjectMember.added_at, ProjectMember.user_id)
            .limit(1)
        )
        if successor is not None:
            old = successor.role
            successor.role = ProjectRole.owner.value
            audit.record(
                session,
                company_id=project.company_id,
                project_id=project.id,
                actor_id=None,
                action="member.role_changed",
                user_id=str(successor.user_id),
                old_role=old,
                new_role=ProjectRole.owner.value,
                reason="last_owner_deactivated",
            )
            return successor
    return None


async def _delete(
    session: AsyncSession, project: Project, member: ProjectMember, *, actor_id: uuid.UUID | None, reason: str | None
) -> None:
    await session.delete(member)
    # Free-form audit details (record()'s **details), not its typed circuit/version arguments.
    details: dict[str, Any] = {"user_id": str(member.user_id), "role": member.role}
    if reason:
        details["reason"] = reason
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=actor_id,
        action="member.removed",
        **details,
    )
    await events.member_removed(session, project, member.user_id, actor_id=actor_id)
    await session.flush()


async def _get(session: AsyncSession, project_id: uuid.UUID, user_id: uuid.UUID) -> ProjectMember | None:
    return await session.get(ProjectMember, (project_id, user_id))


async def _require(session: AsyncSession, project_id: uuid.UUID, user_id: uuid.UUID) -> ProjectMember:
    member = await _get(session, project_id, user_id)
    if member is None:
        raise not_found("member")
    return member


async def _owner_count(session: AsyncSession, project_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        ProjectMember.project_id == project_id, ProjectMember.role == ProjectRole.owner.value
    )
    return (await session.scalar(query)) or 0


def last_owner():
    return conflict("a project must keep at least one owner; make someone else owner first")
