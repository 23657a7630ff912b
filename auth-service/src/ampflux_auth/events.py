"""Events the auth service publishes, written to the outbox in the caller's transaction.

The auth service consumes no events.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import (
    CompanyCreated,
    EventPayload,
    Outbox,
    UserDeactivated,
    UserRegistered,
    UserUpdated,
    make_event,
)
from ampflux_shared.observability import current_request_id

from .models import Company, User

PRODUCER = "auth"


class AuthEvents:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    async def _add(
        self, session: AsyncSession, type: str, payload: EventPayload, company_id: uuid.UUID, actor_id: uuid.UUID | None
    ) -> None:
        envelope = make_event(
            type, payload, producer=PRODUCER, company_id=company_id, actor_id=actor_id, request_id=current_request_id()
        )
        await self._outbox.add(session, envelope)

    async def company_created(self, session: AsyncSession, company: Company, *, actor_id: uuid.UUID | None) -> None:
        payload = CompanyCreated(company_id=company.id, name=company.name)
        await self._add(session, "auth.company.created", payload, company.id, actor_id)

    async def user_registered(self, session: AsyncSession, user: User, *, actor_id: uuid.UUID | None) -> None:
        payload = UserRegistered(
            user_id=user.id, company_id=user.company_id, email=user.email, name=user.name, roles=list(user.roles)
        )
        await self._add(session, "auth.user.registered", payload, user.company_id, actor_id)

    async def user_updated(
        self, session: AsyncSession, user: User, changed: list[str], *, actor_id: uuid.UUID | None
    ) -> None:
        values = {f: (list(user.roles) if f == "roles" else getattr(user, f)) for f in changed}
        payload = UserUpdated(user_id=user.id, company_id=user.company_id, changed_fields=changed, **values)
        await self._add(session, "auth.user.updated", payload, user.company_id, actor_id)

    async def user_deactivated(self, session: AsyncSession, user: User, *, actor_id: uuid.UUID | None) -> None:
        payload = UserDeactivated(user_id=user.id, company_id=user.company_id)
        await self._add(session, "auth.user.deactivated", payload, user.company_id, actor_id)
