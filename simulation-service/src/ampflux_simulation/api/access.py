"""Who may see a study run: the run's company (checked in the query) and, on top, whoever
may see its project in the project service (members and company admins).

Company admins see every project of their company there too, so they skip the call. Everyone
else is checked with their own token; a project they may not see answers 404, exactly like
a run of another company (no existence leak).
"""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import ProblemError, forbidden, not_found, unauthorized
from ampflux_shared.security import Principal

from ..domain import runs
from ..models import StudyRun


def bearer_token(request: Request) -> str:
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    return token


async def require_project(request: Request, principal: Principal, project_id: uuid.UUID) -> None:
    """404 `project` unless the caller may see the project (admins of its company always may)."""
    if principal.is_admin:
        return
    await request.app.state.project_client.check_project(bearer_token(request), project_id)


# Project roles, lowest first: starting or stopping a study needs `editor` or higher.
PROJECT_ROLES = ("viewer", "editor", "owner")


async def require_project_role(
    request: Request, principal: Principal, project_id: uuid.UUID, at_least: str = "editor"
) -> None:
    """404 unless the caller may see the project, 403 unless their role in it is `at_least`.

    Always asked of the project service, company admins included: it alone knows whether
    the project belongs to the caller's company, so a run is never attached to a project
    id the caller does not own. The same rule as `POST /circuits/{id}/simulate` there.
    """
    role = await request.app.state.project_client.project_role(bearer_token(request), project_id)
    if role not in PROJECT_ROLES or PROJECT_ROLES.index(role) < PROJECT_ROLES.index(at_least):
        raise forbidden(f"this needs the project role {at_least} or higher")


async def visible_run(request: Request, session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> StudyRun:
    """The company's run, if the caller may also see its project; otherwise 404."""
    run = await runs.get_run(session, principal.company_id, run_id)
    try:
        await require_project(request, principal, run.project_id)
    except ProblemError as exc:
        if exc.status == 404:
            raise not_found("simulation run") from None
        raise
    return run
