"""Project routes: create, list, read, update, archive/unarchive, delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import projects as service
from ..domain.access import ProjectAccess, ProjectRole, project_access
from ..schemas import ProjectCreate, ProjectRead, ProjectUpdate
from .deps import MetricsDep, PageDep, SessionDep, after_commit

router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[scoped("projects")])


def project_read(access: ProjectAccess) -> ProjectRead:
    return ProjectRead.model_validate(access.project).model_copy(update={"my_role": access.effective_role})


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create a project (the caller becomes its owner)")
async def create_project(
    body: ProjectCreate, principal: CurrentPrincipal, session: SessionDep, metrics: MetricsDep
) -> ProjectRead:
    project = await service.create_project(session, principal, name=body.name, description=body.description)
    after_commit(session, metrics.projects_created.inc)
    return ProjectRead.model_validate(project).model_copy(update={"my_role": ProjectRole.owner})


@router.get("/", summary="Projects the caller can see, by name")
async def list_projects(
    principal: CurrentPrincipal,
    session: SessionDep,
    paging: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="part of the name, any case")] = None,
    include_archived: bool = False,
) -> Page[ProjectRead]:
    page = await service.list_projects(session, principal, paging=paging, search=q, include_archived=include_archived)
    items = [
        ProjectRead.model_validate(project).model_copy(
            update={"my_role": ProjectRole.owner if principal.is_admin else (ProjectRole(role) if role else None)}
        )
        for project, role in page.items
    ]
    return Page(items=items, total=page.total, page=page.page, page_size=page.page_size)


@router.get("/{project_id}", summary="Read a project (members and company admins)")
async def read_project(project_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> ProjectRead:
    return project_read(await project_access(session, principal, project_id))


@router.patch("/{project_id}", summary="Rename or describe a project (owners)")
async def update_project(
    project_id: uuid.UUID, body: ProjectUpdate, principal: CurrentPrincipal, session: SessionDep
) -> ProjectRead:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner, writable=True)
    await service.update_project(session, access, name=body.name, description=body.description)
    return project_read(access)


@router.post("/{project_id}/archive", summary="Archive a project: read-only and out of default lists (owners)")
async def archive_project(project_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> ProjectRead:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner)
    service.set_archived(session, access, True)
    return project_read(access)


@router.post("/{project_id}/unarchive", summary="Bring an archived project back (owners)")
async def unarchive_project(project_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> ProjectRead:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner)
    service.set_archived(session, access, False)
    return project_read(access)


@router.delete(
    "/{project_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a project and its circuits (owners)"
)
async def delete_project(
    project_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, metrics: MetricsDep
) -> Response:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner, lock=True)
    await service.delete_project(session, access)
    after_commit(session, metrics.projects_deleted.inc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
