"""Member routes: who is in a project and with which role."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import members as service
from ..domain.access import ProjectRole, project_access
from ..schemas import MemberAdd, MemberRead, MemberUpdate
from .deps import PageDep, SessionDep

router = APIRouter(prefix="/projects/{project_id}/members", tags=["members"], dependencies=[scoped("projects")])


@router.get("/", summary="Members of a project (any member)")
async def list_members(
    project_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[MemberRead]:
    access = await project_access(session, principal, project_id)
    rows = await service.list_members(session, access.project.id, paging)
    return Page[MemberRead].model_validate(rows.to_page([MemberRead.model_validate(m) for m in rows.items]))


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Add a member (owners)")
async def add_member(
    project_id: uuid.UUID, body: MemberAdd, principal: CurrentPrincipal, session: SessionDep
) -> MemberRead:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner, writable=True, lock=True)
    return MemberRead.model_validate(await service.add_member(session, access, user_id=body.user_id, role=body.role))


@router.patch("/{user_id}", summary="Change a member's role (owners); the last owner cannot step down")
async def change_role(
    project_id: uuid.UUID, user_id: uuid.UUID, body: MemberUpdate, principal: CurrentPrincipal, session: SessionDep
) -> MemberRead:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner, writable=True, lock=True)
    return MemberRead.model_validate(await service.change_role(session, access, user_id=user_id, role=body.role))


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (owners), or leave (any member); the last owner cannot go",
)
async def remove_member(
    project_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    access = await project_access(session, principal, project_id, writable=True, lock=True)
    await service.remove_member(session, access, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
