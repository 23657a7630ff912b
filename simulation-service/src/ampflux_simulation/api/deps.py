"""Typed dependencies the routers share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ampflux_shared.deps import DatabaseDep, SessionDep
from ampflux_shared.pagination import PageDep
from ampflux_shared.security import Principal, require_roles

from ..config import Settings
from ..domain.results import DecodedSets

# Who may start or cancel studies; anyone in the company may read them.
RUN_ROLES = ("admin", "engineer", "manager")


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _decoded_sets(request: Request) -> DecodedSets:
    return request.app.state.decoded_sets


# The request owns the transaction (shared unit of work: committed before the response).
__all__ = ["DatabaseDep", "DecodedSetsDep", "PageDep", "RunnerPrincipal", "SessionDep", "SettingsDep"]
SettingsDep = Annotated[Settings, Depends(_settings)]
# Result sets decoded recently by this process (paging through a big set decodes it once).
DecodedSetsDep = Annotated[DecodedSets, Depends(_decoded_sets)]
RunnerPrincipal = Annotated[Principal, require_roles(*RUN_ROLES)]
