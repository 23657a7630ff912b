"""Dependencies every router uses: the request's unit of work, paging, project access."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from ampflux_shared.deps import SessionDep, after_commit  # noqa: F401  (re-exported for the routers)

from ..domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest
from ..metrics import ProjectMetrics


def page_request(
    page: Annotated[int, Query(ge=1, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"at most {MAX_PAGE_SIZE}")
    ] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size)


PageDep = Annotated[PageRequest, Depends(page_request)]


def project_metrics(request: Request) -> ProjectMetrics:
    return request.app.state.project_metrics


MetricsDep = Annotated[ProjectMetrics, Depends(project_metrics)]
