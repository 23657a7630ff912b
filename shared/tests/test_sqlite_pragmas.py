"""A task cancelled while its SQLite connection opens leaves no lock behind.

The switch of a fresh file to WAL holds an EXCLUSIVE lock until its statement is done. When each
pragma had its own cursor and await, a lifespan that stopped while a background task connected
cancelled that await, the statement was never finished, and every other connection then waited
the whole 30 s busy timeout (the embedded simulation service's slow stop).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from ampflux_shared.db import Database
from ampflux_testing.polling import eventually


def _reader_locked_out(path: Path) -> bool:
    """Whether a new connection is refused a read right now (timeout 0: no busy waiting)."""
    probe = sqlite3.connect(path, timeout=0)
    try:
        probe.execute("SELECT count(*) FROM notes").fetchall()
        return False
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return True
    finally:
        probe.close()


async def test_a_connection_cancelled_while_switching_to_wal_leaves_the_file_readable(tmp_path):
    path = tmp_path / "fresh.db"
    with sqlite3.connect(path) as setup:  # a fresh file, still in the rollback-journal mode
        setup.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    setup.close()
    # A reader in a transaction holds the switch to WAL (it needs the file to itself) while the
    # task connecting waits in the busy handler: the moment the lifespan's stop cancelled it.
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM notes").fetchall()
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        connecting = asyncio.create_task(db.ping())
        # The switch waiting for the EXCLUSIVE lock holds PENDING, which turns new readers away.
        await eventually(
            lambda: _reader_locked_out(path),
            timeout=5.0,
            interval=0.005,
            what="the connection to reach the switch to WAL",
        )
        connecting.cancel()
        reader.execute("COMMIT")
        await asyncio.gather(connecting, return_exceptions=True)

        await eventually(
            lambda: not _reader_locked_out(path),
            timeout=1.0,
            interval=0.005,
            what="the cancelled connection to release the file",
        )
        with sqlite3.connect(path, timeout=0) as after:
            assert after.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        after.close()
        await db.ping()  # and the engine's own next connection opens at once
    finally:
        reader.close()
        await db.dispose()
