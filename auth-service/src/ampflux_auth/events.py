"""Events the auth service publishes, written to the outbox in the caller's transaction.

The auth service consumes no events (so it has no `consumers.py`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import CompanyCreated, EventPublisher, UserDeactivated, UserRegistered, UserUpdated

from .models import Company, User, event_tables

publisher = EventPublisher("auth", event_tables)


async def company_created(session: AsyncSession, company: Company, *, actor_id: uuid.UUID | None) -> None:
    payload = CompanyCreated(company_id=company.id, name=company.name)
    await publisher.emit(session, "auth.company.created", payload, company_id=company.id, actor_id=actor_id)


async def user_registered(session: AsyncSession, user: User, *, actor_id: uuid.UUID | None) -> None:
    payload = UserRegistered(
        user_id=user.id, company_id=user.company_id, email=user.email, name=user.name, roles=list(user.roles)
    )
    await publisher.emit(session, "auth.user.registered", payload, company_id=user.company_id, actor_id=actor_id)


async def user_updated(session: AsyncSession, user: User, changed: list[str], *, actor_id: uuid.UUID | None) -> None:
    values = {f: (list(user.roles) if f == "roles" else getattr(user, f)) for f in changed}
    payload = UserUpdated(user_id=user.id, company_id=user.company_id, changed_fields=changed, **values)
    await publisher.emit(session, "auth.user.updated", payload, company_id=user.company_id, actor_id=actor_id)


async def user_deactivated(session: AsyncSession, user: User, *, actor_id: uuid.UUID | None) -> None:
    payload = UserDeactivated(user_id=user.id, company_id=user.company_id)
    await publisher.emit(session, "auth.user.deactivated", payload, company_id=user.company_id, actor_id=actor_id)
