"""Typed dependencies the routers share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import Database
from ampflux_shared.security import Principal, require_roles

from ..config import Settings

# Who may start or cancel studies; anyone in the company may read them.
RUN_ROLES = ("admin", "engineer", "manager")


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # The request owns the transaction: commit when the route returns, roll back on error.
    async with request.app.state.db.session() as session:
        yield session


def _database(request: Request) -> Database:
    return request.app.state.db


def _settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[AsyncSession, Depends(_session)]
DatabaseDep = Annotated[Database, Depends(_database)]
SettingsDep = Annotated[Settings, Depends(_settings)]
RunnerPrincipal = Annotated[Principal, require_roles(*RUN_ROLES)]
