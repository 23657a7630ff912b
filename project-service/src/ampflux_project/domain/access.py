"""Who may do what on a project.

Project roles rank viewer < editor < owner. A company `admin` acts as an owner on every
project of the company without being a member. A project is invisible (404, never 403)
to other companies and to non-members, so ids cannot be probed; a member whose role is
too low gets 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import ProblemError, conflict, forbidden, not_found
from ampflux_shared.security import Principal

from ..models import Project, ProjectMember


class ProjectRole(StrEnum):
    viewer = "viewer"
    editor = "editor"
    owner = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {ProjectRole.viewer: 1, ProjectRole.editor: 2, ProjectRole.owner: 3}

# Company roles allowed to start a project (and so become its owner).
PROJECT_CREATOR_ROLES = ("admin", "engineer", "manager")


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    principal: Principal
    # The caller's membership role; None for a company admin who is not a member.
    member_role: ProjectRole | None

    @property
    def effective_role(self) -> ProjectRole:
        if self.principal.is_admin:
            return ProjectRole.owner
        assert self.member_role is not None  # non-members never get a ProjectAccess
        return self.member_role

    def allows(self, role: ProjectRole) -> bool:
        return self.effective_role.rank >= role.rank


async def project_access(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    at_least: ProjectRole = ProjectRole.viewer,
    writable: bool = False,
    lock: bool = False,
) -> ProjectAccess:
    """The caller's access to a project of their company, or the problem to answer.

    `writable` refuses archived projects (409): they are read-only until unarchived.
    `lock` takes a row lock so membership changes of one project are serialised.
    """
    query = select(Project).where(Project.id == project_id, Project.company_id == principal.company_id)
    if lock:
        query = query.with_for_update()
    project = await session.scalar(query)
    if project is None:
        raise not_found("project")
    member_role = await session.scalar(
        select(ProjectMember.role).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == principal.user_id
        )
    )
    access = ProjectAccess(project, principal, ProjectRole(member_role) if member_role else None)
    if member_role is None and not principal.is_admin:
        raise not_found("project")
    if not access.allows(at_least):
        raise forbidden(f"this needs the project role {at_least.value} or higher")
    if writable and project.archived:
        raise project_archived()
    return access


def project_archived() -> ProblemError:
    return conflict("the project is archived; unarchive it to change it")


def require_project_creator(principal: Principal) -> None:
    if not principal.has_role(*PROJECT_CREATOR_ROLES):
        raise forbidden(f"creating a project needs one of the company roles: {', '.join(PROJECT_CREATOR_ROLES)}")
