"""The audit trail of a project, for its owners and the company admins."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import audit as service
from ..domain.access import ProjectRole, project_access
from ..schemas import AuditEntryRead
from .deps import PageDep, SessionDep

router = APIRouter(prefix="/projects/{project_id}/audit", tags=["audit"], dependencies=[scoped("projects")])


@router.get("/", summary="Who did what in the project, newest first (owners, company admins)")
async def list_audit(
    project_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    paging: PageDep,
    circuit_id: uuid.UUID | None = None,
) -> Page[AuditEntryRead]:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner)
    page = await service.list_entries(
        session,
        company_id=access.project.company_id,
        project_id=access.project.id,
        paging=paging,
        circuit_id=circuit_id,
    )
    return Page(
        items=[AuditEntryRead.model_validate(e) for e in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )
