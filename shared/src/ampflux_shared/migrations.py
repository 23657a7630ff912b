"""Alembic helpers shared by every service's `migrations/` folder.

Each service keeps its own migration scripts and version table. Migrations run with a
synchronous engine (psycopg 3 and sqlite3 both work synchronously), in a worker thread when
called from a running event loop, so Alembic's own machinery is used unchanged.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError


def sync_url(url: str) -> str:
    u = make_url(url)
    if u.drivername == "sqlite+aiosqlite":
        u = u.set(drivername="sqlite")
    elif u.drivername.startswith("postgresql"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def alembic_config(script_location: Path, url: str, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    cfg.attributes["version_table"] = version_table
    return cfg


def upgrade_to_head(script_location: Path, url: str, version_table: str) -> None:
    """Bring the database to the newest schema, creating it first if it does not exist yet.

    One connection serves both: a service does this at every start (in the embedded mode and
    in tests, hundreds of times a run), and asking the server first whether the database
    exists was a second connection, a second server process, each time."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        try:
            connection = engine.connect()
        except OperationalError:
            # Most likely a PostgreSQL database not made yet. Any other cause (the server is
            # down, a wrong password) fails the same way again below, with the driver's message.
            ensure_postgres_database(url)
            connection = engine.connect()
        with connection:
            current = MigrationContext.configure(connection, opts={"version_table": version_table})
            if set(current.get_current_heads()) == _heads(script_location):
                return  # at head, as at almost every start: no migration script loaded
            cfg = alembic_config(script_location, url, version_table)
            cfg.attributes["connection"] = connection  # run_env migrates over it
            command.upgrade(cfg, "head")
            connection.commit()
    finally:
        engine.dispose()


@functools.cache
def _heads(script_location: Path) -> set[str]:
    """The newest revisions of a service's migrations (read once per process: Alembic loads
    every script of the folder to know them)."""
    return set(ScriptDirectory(str(script_location)).get_heads())


async def upgrade_to_head_async(script_location: Path, url: str, version_table: str) -> None:
    await asyncio.to_thread(upgrade_to_head, script_location, url, version_table)


def run_env(target_metadata: MetaData) -> None:
    """Body of a service's `migrations/env.py`.

    Run through `alembic_config()` (the service, `python -m ampflux_shared.migrate`), the URL
    and version table come with the config. Run by plain `alembic -c alembic.ini ...`, the
    service's `alembic.ini` names it (`ampflux_service = <name>`) and both come from the
    service's own settings, exactly as the service would use them.
    """
    cfg = context.config
    version_table = cfg.attributes.get("version_table")
    url = cfg.get_main_option("sqlalchemy.url")
    service = cfg.get_main_option("ampflux_service")
    if version_table is None and service:
        from .migrate import service_migrations  # the service's settings, only for plain alembic

        target = service_migrations(service)
        version_table, url = target.version_table, sync_url(target.url)
    if url is None:
        raise RuntimeError("no database URL: build the config with alembic_config() or name ampflux_service")
    opts: dict[str, Any] = dict(
        target_metadata=target_metadata,
        version_table=version_table or "alembic_version",
        render_as_batch=url.startswith("sqlite"),  # SQLite can't ALTER most things in place
        compare_type=True,
    )
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    given = cfg.attributes.get("connection")
    if given is not None:  # upgrade_to_head's
        context.configure(connection=given, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **opts)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist yet."""
    u = make_url(sync_url(url))
    if not u.drivername.startswith("postgresql") or not u.database:
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": u.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    finally:
        admin.dispose()


def create_event_tables() -> None:
    """Migration step: the outbox and inbox tables exactly as `EventTables` defines them on a
    service's MetaData, so no service's migration carries its own copy of their columns."""
    from alembic import op

    from .db import new_metadata
    from .events.tables import EventTables

    tables = EventTables(new_metadata())
    bind = op.get_bind()
    for table in (tables.inbox, tables.outbox):
        table.create(bind)  # with its index (the relay's unpublished tail)


def drop_event_tables() -> None:
    """Migration step: the reverse of `create_event_tables`."""
    from alembic import op

    from .db import new_metadata
    from .events.tables import EventTables

    tables = EventTables(new_metadata())
    bind = op.get_bind()
    for table in (tables.outbox, tables.inbox):
        table.drop(bind)
