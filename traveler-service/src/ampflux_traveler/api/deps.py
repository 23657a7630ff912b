"""Dependencies every router uses: the request's unit of work, paging, the service's figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ampflux_shared.deps import SessionDep, after_commit  # noqa: F401  (re-exported for the routers)
from ampflux_shared.pagination import PageDep  # noqa: F401  (re-exported for the routers)

from ..metrics import TravelerMetrics


async def traveler_metrics(request: Request) -> TravelerMetrics:
    return request.app.state.traveler_metrics


MetricsDep = Annotated[TravelerMetrics, Depends(traveler_metrics)]
