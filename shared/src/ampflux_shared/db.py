"""Async SQLAlchemy engine and sessions, for PostgreSQL (psycopg 3) and SQLite.

The transaction belongs to the request or the message handler: `Database.session()` opens
one, commits when the block ends normally and rolls back on any exception. Domain code
receives a session and never commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from .settings import ServiceSettings

# Stable constraint names so Alembic autogenerate and migrations agree on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """MetaData for a service's `class Base(DeclarativeBase)`: one per service, so each
    service also gets its own mapper registry."""
    return MetaData(naming_convention=NAMING_CONVENTION)


# Session.info flag set by `events.Outbox.add`: the transaction wrote events, so
# `Database.session()` wakes the outbox relay once it has committed.
OUTBOX_WRITTEN = "ampflux.outbox_written"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend: SQLite drops the offset, so it is put back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# JSON documents: JSONB on PostgreSQL (indexable, compact), plain JSON elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


# WAL lets readers proceed while a writer commits; foreign keys are off by default.
_SQLITE_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;"


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 20, ping_after_idle_s: float = 0.0
) -> AsyncEngine:
    """`ping_after_idle_s` 0: every pooled connection is pinged before use; more: only those
    idle that long (`db_ping`)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # One call in aiosqlite's worker thread, which runs each statement to its end: a
            # cursor per pragma was an await each, and a task cancelled during one (a lifespan
            # stopping while its background tasks connect) left `PRAGMA journal_mode=WAL`
            # stepped but never reset. On a fresh file that statement holds the EXCLUSIVE lock
            # of the switch to WAL until it is reset; closing the connection does not reset it
            # (sqlite3_close_v2 keeps the connection while a statement lives), so the lock
            # lasted until the garbage collector freed the cursor and the next connection
            # waited the whole busy timeout. Kept in this listener, whose first run SQLAlchemy
            # holds the pool's other connections for: two connections switching a fresh file at
            # once fail with "database is locked" at once, without waiting.
            dbapi_conn.run_async(lambda driver: driver.executescript(_SQLITE_PRAGMAS))

        return engine
    engine = create_async_engine(
        url, echo=echo, pool_pre_ping=ping_after_idle_s <= 0, pool_size=pool_size, max_overflow=max_overflow
    )
    if ping_after_idle_s > 0:
        from .db_ping import ping_only_after_idle

        ping_only_after_idle(engine, ping_after_idle_s)
    return engine


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 20,
        ping_after_idle_s: float = 0.0,
    ) -> None:
        self.url = url
        self.engine = make_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=max_overflow, ping_after_idle_s=ping_after_idle_s
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._outbox_listeners: list[Callable[[], None]] = []

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Database:
        """The service's database as its settings configure it (URL, pool, ping after idle):
        the one way the app factory and the workers build theirs."""
        return cls(
            settings.resolved_database_url(),
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            ping_after_idle_s=settings.database_ping_after_idle_s,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def on_outbox_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every unit of work that committed outbox rows (the relay's
        wake-up): requests, consumers and workers alike, so no caller has to remember to."""
        self._outbox_listeners.append(callback)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        if session.info.pop(OUTBOX_WRITTEN, False):
            for callback in self._outbox_listeners:
                callback()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
