"""FastAPI dependencies every service's routers use for the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database

_AFTER_COMMIT = "ampflux.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the request's transaction has committed (never if it rolls back):
    for work that must only happen once the change is durable, such as counting it."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the route returns, rolled back if it raises.

    `scope="function"` below makes FastAPI finish this dependency (and so commit) before the
    response is sent: a client that reads back what it just created finds it, and a failed
    commit becomes an error response instead of a success followed by a lost write.
    """
    async with request.app.state.db.session() as session:
        yield session
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()
    # Events written here wake the outbox relay from `Database.session()` itself.


# Getters of app state are `async def` (here and in the services' api/deps.py): FastAPI runs a
# plain `def` dependency in its thread pool, a hop per request for a one-line attribute read.
async def _database(request: Request) -> Database:
    return request.app.state.db


SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]
DatabaseDep = Annotated[Database, Depends(_database)]
