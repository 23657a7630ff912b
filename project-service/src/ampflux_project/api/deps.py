"""Dependencies every router uses: the request's unit of work, paging, project access."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import Database

from ..domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest
from ..metrics import ProjectMetrics


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the endpoint returns, rolled back if it raises.

    Runs with scope="function" so the commit happens before the response is sent: a failed
    commit becomes an error response, never a 201 for something not stored. Work that must
    only happen once the change is durable (waking the outbox relay, counting) runs after.
    """
    db: Database = request.app.state.db
    async with db.session() as session:
        yield session
    for callback in session.info.get("after_commit", []):
        callback()
    relay = getattr(request.app.state, "relay", None)
    if relay is not None and session.info.get("outbox_written"):
        relay.kick()


SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    session.info.setdefault("after_commit", []).append(callback)


def page_request(
    page: Annotated[int, Query(ge=1, description="1-based page number")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"at most {MAX_PAGE_SIZE}")] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size)


PageDep = Annotated[PageRequest, Depends(page_request)]


def project_metrics(request: Request) -> ProjectMetrics:
    return request.app.state.project_metrics


MetricsDep = Annotated[ProjectMetrics, Depends(project_metrics)]
