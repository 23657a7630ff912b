"""What the traveler service consumes, each event handled at most once (the inbox).

`auth.user.deactivated` closes the user's open labor log: their time on the floor ends
with their account, and the one-open-log rule would otherwise hold an orphan forever.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import EventEnvelope, Inbox, PoisonEventError, UserDeactivated, consume_once, parse_payload

from .domain.labor import close_for_deactivated_user
from .models import event_tables

USER_DEACTIVATED = "auth.user.deactivated"
CONSUMED = [USER_DEACTIVATED]

log = logging.getLogger("ampflux.traveler.consumers")
_inbox = Inbox(event_tables)


async def on_user_deactivated(session: AsyncSession, envelope: EventEnvelope) -> None:
    payload = parse_payload(envelope)
    if not isinstance(payload, UserDeactivated):
        raise PoisonEventError(f"not a deactivated user: {type(payload).__name__}")
    closed = await close_for_deactivated_user(session, payload.company_id, payload.user_id)
    log.info("user %s deactivated: %d open labor log(s) closed", payload.user_id, closed)


async def subscribe_consumers(app: FastAPI) -> None:
    """Startup hook: bind the service's durable queue and handle each event once."""
    # Consumer names key the inbox: keep them stable, or handled events count as new.
    handlers = {USER_DEACTIVATED: consume_once(app.state.db, _inbox, "traveler.user-deactivated", on_user_deactivated)}

    async def handle(envelope: EventEnvelope) -> None:
        handler = handlers.get(envelope.type)
        if handler is None:  # a binding this release does not handle (e.g. after a rollback)
            log.warning("no handler for %s %s; dropped", envelope.type, envelope.id)
            return
        await handler(envelope)

    await app.state.bus.subscribe(app.state.settings.events_queue, CONSUMED, handle)
