"""Company user management, for the company's admins. Everything is scoped to the caller's
company: another company's user answers 404, exactly like one that does not exist."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from ampflux_shared.pagination import Page, PageDep
from ampflux_shared.security import require_scope, scoped

from ..domain import users
from ..schemas import UserCreate, UserRead, UserUpdate
from .deps import AdminPrincipal, HasherDep, SessionDep, problem

# Managing users is user management for a key too: `users:admin`, whatever the method.
router = APIRouter(prefix="/auth/users", tags=["users"], dependencies=[require_scope("users:admin"), scoped("users")])

ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: problem("caller is not an admin")}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: problem("no such user in the caller's company")}


@router.get("", summary="List the company's users", responses=ADMIN_ONLY)
async def list_users(admin: AdminPrincipal, session: SessionDep, paging: PageDep) -> Page[UserRead]:
    rows = await users.list_company_users(session, admin.company_id, paging)
    return Page[UserRead].model_validate(rows.to_page([UserRead.model_validate(u) for u in rows.items]))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user in the company",
    responses={**ADMIN_ONLY, 409: problem("email already registered")},
)
async def create_user(body: UserCreate, admin: AdminPrincipal, session: SessionDep, hasher: HasherDep) -> UserRead:
    user = await users.create_user(
        session,
        hasher,
        company_id=admin.company_id,
        name=body.name,
        email=body.email,
        password=body.password,
        roles=list(body.roles),
        actor_id=admin.user_id,
    )
    return UserRead.model_validate(user)


@router.get("/{user_id}", summary="One user of the company", responses={**ADMIN_ONLY, **NOT_FOUND})
async def read_user(user_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await users.get_company_user(session, admin.company_id, user_id))


@router.patch(
    "/{user_id}",
    summary="Change a user's name or roles",
    responses={**ADMIN_ONLY, **NOT_FOUND, 409: problem("would leave no active admin")},
)
async def update_user(user_id: uuid.UUID, body: UserUpdate, admin: AdminPrincipal, session: SessionDep) -> UserRead:
    user = await users.get_company_user(session, admin.company_id, user_id)
    await users.update_user(
        session,
        user,
        name=body.name,
        roles=list(body.roles) if body.roles is not None else None,
        actor_id=admin.user_id,
    )
    return UserRead.model_validate(user)


@router.post(
    "/{user_id}/deactivate",
    summary="Deactivate a user: no more logins or refreshes, sessions ended",
    responses={**ADMIN_ONLY, **NOT_FOUND, 409: problem("would leave no active admin")},
)
async def deactivate_user(user_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep) -> UserRead:
    user = await users.get_company_user(session, admin.company_id, user_id)
    await users.deactivate_user(session, user, actor_id=admin.user_id)
    return UserRead.model_validate(user)


@router.post(
    "/{user_id}/reactivate", summary="Let a deactivated user log in again", responses={**ADMIN_ONLY, **NOT_FOUND}
)
async def reactivate_user(user_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep) -> UserRead:
    user = await users.get_company_user(session, admin.company_id, user_id)
    await users.reactivate_user(session, user, actor_id=admin.user_id)
    return UserRead.model_validate(user)
