"""Transactional outbox: events are rows written with the state change, relayed afterwards.

Request code calls `Outbox.add(session, envelope)` inside its unit of work; nothing is sent
unless that transaction commits. `OutboxRelay` then publishes unsent rows in order with
publisher confirms and marks them. Delivery is at least once: a crash between the confirm
and the mark re-sends the event, which the consumers' inbox absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sqlalchemy import CursorResult, delete, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..backoff import Backoff
from ..db import OUTBOX_WRITTEN, Database
from .bus import EventBus
from .envelope import EventEnvelope
from .errors import PublishError
from .metrics import event_metrics
from .tables import EventTables

__all__ = ["EventTables", "Outbox", "OutboxRelay"]

log = logging.getLogger("ampflux.events.outbox")
_KICK_LISTENER = "ampflux_outbox_kick"


class Outbox:
    def __init__(self, tables: EventTables, *, on_commit: Callable[[], None] | None = None) -> None:
        self.table = tables.outbox
        self.on_commit = on_commit

    async def add(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        """Insert the event in the caller's transaction; the caller's unit of work commits."""
        await session.execute(
            insert(self.table).values(
                id=envelope.id,
                type=envelope.type,
                version=envelope.version,
                payload=envelope.payload,
                envelope=envelope.model_dump(mode="json"),
                created_at=envelope.time,
                attempts=0,
            )
        )
        session.info[OUTBOX_WRITTEN] = True  # Database.session() wakes the relay after commit
        if self.on_commit is not None and not session.info.get(_KICK_LISTENER):
            # Wake the relay right after the commit, so nobody has to remember to.
            callback = self.on_commit
            event.listen(session.sync_session, "after_commit", lambda _session: callback())
            session.info[_KICK_LISTENER] = True


class OutboxRelay:
    """Background publisher of a service's outbox. Several replicas may run one each."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        tables: EventTables,
        *,
        registry: CollectorRegistry | None = None,
        poll_interval: float = 0.5,
        batch_size: int = 100,
        max_backoff: float = 30.0,
        stop_grace: float = 10.0,
        retention: timedelta | None = timedelta(days=7),
        purge_interval: float = 3600.0,
        purge_delay: float = 60.0,
        idle_gauge_interval: float = 5.0,
    ) -> None:
        self.database = database
        self.bus = bus
        self.table = tables.outbox
        self.inbox_table = tables.inbox
        self.metrics = event_metrics(registry)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        # Broker or database down: the platform's one retry rule, from the poll interval up to max_backoff.
        self.backoff = Backoff(base_s=poll_interval, max_s=max_backoff)
        self.stop_grace = stop_grace
        self.outbox = Outbox(tables, on_commit=self.kick)
        # Any unit of work on this database that writes events wakes the relay after commit.
        database.on_outbox_commit(self.kick)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.passes = 0  # completed relay passes, for diagnostics and tests
        # The backlog gauges are counted after every pass that published or failed, and
        # otherwise every `idle_gauge_interval` seconds: an idle relay passes twice a second,
        # and counting the backlog on each pass was a second transaction per pass.
        self.idle_gauge_interval = idle_gauge_interval
        self._gauge_at = -math.inf
        # Housekeeping: published outbox rows and inbox records older than `retention` go,
        # every `purge_interval` seconds (None: never; the tables then grow forever), the first
        # time `purge_delay` seconds after start: not in the start's rush for connections (a
        # second one at once beside the relay's), and not at every start of a crash loop.
        self.retention = retention
        self.purge_interval = purge_interval
        self.purge_delay = purge_delay
        self._purge_task: asyncio.Task[None] | None = None
        self.purges = 0  # completed purge passes, for diagnostics and tests

    def kick(self) -> None:
        """Relay now rather than at the next poll (call after committing outbox rows)."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="outbox-relay")
        if self.retention is not None and (self._purge_task is None or self._purge_task.done()):
            self._purge_task = asyncio.create_task(self._purge_loop(), name="outbox-inbox-purge")

    async def stop(self) -> None:
        if self._purge_task is not None:
            # A purge is one DELETE per table: cancelling it rolls it back, and the next start redoes it.
            self._purge_task.cancel()
            await asyncio.gather(self._purge_task, return_exceptions=True)
            self._purge_task = None
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.stop_grace)
        except TimeoutError:
            # Cancelling rolls the pass back; its rows stay unpublished and go out next time.
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def pending(self) -> int:
        return (await self.backlog())[0]

    async def backlog(self) -> tuple[int, float]:
        """Unpublished events: how many, and the age in seconds of the oldest (0 when none)."""
        async with self.database.session() as session:
            stmt = select(func.count(), func.min(self.table.c.created_at)).where(self.table.c.published_at.is_(None))
            count, oldest = (await session.execute(stmt)).one()
        if oldest is None:
            return int(count), 0.0
        return int(count), max((datetime.now(UTC) - oldest).total_seconds(), 0.0)

    async def relay_once(self) -> int:
        """Publish one batch in order; the number confirmed. Raises `PublishError` after
        recording it on the row that failed (later rows wait, keeping the order)."""
        t = self.table
        async with self.database.session() as session:
            stmt = (
                select(t.c.id, t.c.envelope)
                .where(t.c.published_at.is_(None))
                .order_by(t.c.created_at, t.c.id)
                .limit(self.batch_size)
            )
            if not self.database.is_sqlite:
                # Replicas share the work: rows another relay holds are skipped, not waited on.
                stmt = stmt.with_for_update(skip_locked=True)
            rows = (await session.execute(stmt)).all()
            published: list[object] = []
            failure: PublishError | None = None
            for row in rows:
                try:
                    envelope = EventEnvelope.model_validate(row.envelope)
                except ValidationError as exc:
                    # Cannot happen for rows written by Outbox.add; leave it visible as pending.
                    log.error("outbox row %s is not a valid envelope; skipping it: %s", row.id, exc)
                    await self._record_failure(session, row.id, f"invalid envelope: {exc}")
                    continue
                try:
                    await self.bus.publish(envelope)
                except PublishError as exc:
                    await self._record_failure(session, row.id, str(exc))
                    failure = exc
                    break
                published.append(row.id)
            if published:
                await session.execute(
                    update(t)
                    .where(t.c.id.in_(published))
                    .values(published_at=datetime.now(UTC), attempts=t.c.attempts + 1)
                )
        if failure is not None:
            raise failure
        return len(published)

    async def purge_published(self, older_than: timedelta) -> int:
        """Delete rows published before `older_than` ago (run it from a periodic job)."""
        cutoff = datetime.now(UTC) - older_than
        async with self.database.session() as session:
            # A DELETE gives a CursorResult (with rowcount); Session.execute is typed for any statement.
            result = cast(
                CursorResult[Any],
                await session.execute(
                    delete(self.table).where(self.table.c.published_at.is_not(None), self.table.c.published_at < cutoff)
                ),
            )
            return result.rowcount or 0

    async def purge_handled(self, older_than: timedelta) -> int:
        """Delete inbox records of events handled before `older_than` ago."""
        cutoff = datetime.now(UTC) - older_than
        async with self.database.session() as session:
            result = cast(
                CursorResult[Any],
                await session.execute(delete(self.inbox_table).where(self.inbox_table.c.handled_at < cutoff)),
            )
            return result.rowcount or 0

    async def purge_once(self) -> tuple[int, int]:
        """One housekeeping pass: (outbox rows, inbox records) deleted. Unpublished rows stay."""
        assert self.retention is not None
        published = await self.purge_published(self.retention)
        handled = await self.purge_handled(self.retention)
        if published or handled:
            log.info("purged %d published outbox rows and %d inbox records", published, handled)
        return published, handled

    async def _purge_loop(self) -> None:
        # `purge_delay` after start, then every interval; a failure (database down) waits for the next.
        await asyncio.sleep(self.purge_delay)
        while True:
            try:
                await self.purge_once()
            except Exception:
                log.exception("outbox/inbox purge failed; retrying at the next interval")
            self.purges += 1
            await asyncio.sleep(self.purge_interval)

    async def _record_failure(self, session: AsyncSession, row_id: object, error: str) -> None:
        await session.execute(
            update(self.table)
            .where(self.table.c.id == row_id)
            .values(attempts=self.table.c.attempts + 1, last_error=error[:2000])
        )

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()  # kicks arriving during the pass set it again: no lost wake-up
            sent = 0
            try:
                sent = await self.relay_once()
                failures = 0
            except PublishError as exc:
                failures += 1
                log.warning("outbox relay: broker did not confirm, retrying later: %s", exc)
            except Exception:
                failures += 1
                log.exception("outbox relay pass failed, retrying later")
            if sent or failures or time.monotonic() - self._gauge_at >= self.idle_gauge_interval:
                await self._update_gauge()
            self.passes += 1
            if failures:
                # Broker or database down: back off (ignoring kicks) but stay responsive to stop().
                await _wait(self._stopping, self.backoff.delay(failures))
            elif sent < self.batch_size:
                await _wait(self._wake, self.poll_interval)

    async def _update_gauge(self) -> None:
        self._gauge_at = time.monotonic()
        try:
            count, oldest_age = await self.backlog()
            self.metrics.outbox_pending.set(count)
            self.metrics.outbox_oldest_age.set(oldest_age)
        except Exception:
            log.debug("could not count the outbox backlog", exc_info=True)


async def _wait(flag: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(flag.wait(), timeout)
