"""How a service publishes: one `EventPublisher` per service, used by its `events.py`.

Every service's `events.py` has the same shape: a module-level
`publisher = EventPublisher("<service>", event_tables)` and one small async function per
event it publishes (`await events.traveler_released(session, traveler, actor_id=...)`).
The producer is the service's short name, which is also the first word of its routing
keys (`project` publishes `project.*`). What a service consumes lives in `consumers.py`.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ..observability import current_request_id
from .envelope import EventEnvelope, make_event
from .errors import EventContractError
from .outbox import Outbox
from .tables import EventTables


class EventPublisher:
    def __init__(self, producer: str, tables: EventTables) -> None:
        self.producer = producer
        self.outbox = Outbox(tables)

    def envelope(
        self, event_type: str, payload: BaseModel, *, company_id: uuid.UUID | None, actor_id: uuid.UUID | None
    ) -> EventEnvelope:
        if not event_type.startswith(f"{self.producer}."):
            raise EventContractError(f"{self.producer} cannot publish {event_type}: routing keys start with its name")
        return make_event(
            event_type,
            payload,
            producer=self.producer,
            company_id=company_id,
            actor_id=actor_id,
            request_id=current_request_id(),
        )

    async def emit(
        self,
        session: AsyncSession,
        event_type: str,
        payload: BaseModel,
        *,
        company_id: uuid.UUID | None,
        actor_id: uuid.UUID | None,
    ) -> EventEnvelope:
        """Write the event into the outbox inside the caller's transaction (the unit of work
        that commits it wakes the relay)."""
        envelope = self.envelope(event_type, payload, company_id=company_id, actor_id=actor_id)
        await self.outbox.add(session, envelope)
        return envelope
