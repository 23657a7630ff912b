"""Dependencies every router uses: the request's unit of work, paging, project access."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ampflux_shared.deps import SessionDep, after_commit  # noqa: F401  (re-exported for the routers)
from ampflux_shared.pagination import PageDep  # noqa: F401  (re-exported for the routers)

from ..metrics import ProjectMetrics


async def project_metrics(request: Request) -> ProjectMetrics:
    return request.app.state.project_metrics


MetricsDep = Annotated[ProjectMetrics, Depends(project_metrics)]
