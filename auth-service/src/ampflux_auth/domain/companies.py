"""Companies (tenants). A company is born with its first user, who is its admin."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..models import Company, User
from .passwords import PasswordHasher
from .users import Role, create_user


async def register_company(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    company_name: str,
    name: str,
    email: str,
    password: str,
) -> tuple[Company, User]:
    # The registering person is the actor of both events, so their id is fixed up front.
    user_id = uuid.uuid4()
    company = Company(id=uuid.uuid4(), name=company_name.strip())
    session.add(company)
    await session.flush()
    await events.company_created(session, company, actor_id=user_id)
    user = await create_user(
        session,
        hasher,
        company_id=company.id,
        name=name,
        email=email,
        password=password,
        roles=[Role.ADMIN],
        actor_id=user_id,
        user_id=user_id,
    )
    return company, user
