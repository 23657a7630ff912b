"""The outbox and inbox tables, added to a service's own MetaData (and so its migrations)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text, Uuid

from ..db import JSONDocument as _JSON
from ..db import UTCDateTime


class EventTables:
    """`outbox_events` and `inbox_events` in `metadata`; Alembic autogenerate picks them up."""

    def __init__(
        self, metadata: MetaData, *, outbox_name: str = "outbox_events", inbox_name: str = "inbox_events"
    ) -> None:
        self.outbox = Table(
            outbox_name,
            metadata,
            Column("id", Uuid, primary_key=True),  # the envelope id
            Column("type", String(200), nullable=False),
            Column("version", Integer, nullable=False),
            Column("payload", _JSON, nullable=False),
            Column("envelope", _JSON, nullable=False),
            Column("created_at", UTCDateTime, nullable=False),
            # The only state: NULL until the broker confirmed. A row left NULL by a crash is
            # simply picked up again by the next relay pass (eShop's stuck "in progress" gap).
            Column("published_at", UTCDateTime, nullable=True),
            Column("attempts", Integer, nullable=False, default=0, server_default="0"),
            Column("last_error", Text, nullable=True),
        )
        unpublished = self.outbox.c.published_at.is_(None)
        # The relay's query touches only the (small) unpublished tail, in order.
        Index(
            f"ix_{outbox_name}_unpublished",
            self.outbox.c.created_at,
            self.outbox.c.id,
            postgresql_where=unpublished,
            sqlite_where=unpublished,
        )
        self.inbox = Table(
            inbox_name,
            metadata,
            Column("event_id", Uuid, nullable=False),
            Column("consumer", String(200), nullable=False),
            Column("handled_at", UTCDateTime, nullable=False),
            PrimaryKeyConstraint("event_id", "consumer"),
        )
