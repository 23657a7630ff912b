"""Inbox: remember handled event ids per consumer so a redelivery has no second effect."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from .bus import Handler
from .envelope import EventEnvelope
from .tables import EventTables

log = logging.getLogger("ampflux.events.inbox")

SessionHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
_KEY = ["event_id", "consumer"]


def _insert_unless_present(table: Table, dialect: str) -> Insert | None:
    """INSERT … ON CONFLICT DO NOTHING where the dialect has it (each its own Insert class)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=_KEY)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=_KEY)
    return None


class Inbox:
    def __init__(self, tables: EventTables) -> None:
        self.table = tables.inbox

    async def first_time(self, session: AsyncSession, event_id: uuid.UUID, consumer: str) -> bool:
        """Record (event_id, consumer) in the caller's transaction; False if already there.

        Because the row commits or rolls back with the handler's own changes, "recorded"
        and "handled" cannot disagree. On PostgreSQL a concurrent duplicate blocks on the
        first one's row until it commits, then sees the conflict.
        """
        values = {"event_id": event_id, "consumer": consumer, "handled_at": datetime.now(UTC)}
        insert = _insert_unless_present(self.table, session.get_bind().dialect.name)
        if insert is not None:
            # RETURNING rather than rowcount, which drivers do not all report for this.
            stmt = insert.values(**values).returning(self.table.c.event_id)
            result = await session.execute(stmt)
            return result.first() is not None
        # Other backends: a savepoint keeps the duplicate-key error from poisoning the transaction.
        try:
            async with session.begin_nested():
                await session.execute(self.table.insert().values(**values))
        except IntegrityError:
            return False
        return True


def consume_once(database: Database, inbox: Inbox, consumer: str, handler: SessionHandler) -> Handler:
    """A bus handler running `handler(session, envelope)` at most once per event id.

    Inbox check, handler and commit are one unit of work; the bus acks only after it
    returned, i.e. after the commit. `consumer` names the handler (e.g. "project.user-sync"),
    so two handlers in one service can each see the same event once.
    """

    async def handle(envelope: EventEnvelope) -> None:
        async with database.session() as session:
            if not await inbox.first_time(session, envelope.id, consumer):
                log.info("skipping %s %s: %s already handled it", envelope.type, envelope.id, consumer)
                return
            await handler(session, envelope)

    return handle
