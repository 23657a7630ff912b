"""The one LISTEN/NOTIFY listener, on a real PostgreSQL: it connects at the first watch, a
notification wakes only the streams following its id, a lost connection is re-established
(waking every stream, since notifications sent meanwhile are lost), and without PostgreSQL
it does not listen."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import psycopg
import pytest
from sqlalchemy import make_url

from ampflux_shared.backoff import Backoff
from ampflux_shared.db_notify import ChangeListener, follow
from ampflux_testing.polling import eventually


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _notify(url: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(_dsn(url), autocommit=True) as connection:
        await connection.execute("SELECT pg_notify(%s, %s)", (channel, payload))


async def _listening(listener: ChangeListener) -> None:
    # The listener's state has no event of its own: polled.
    await eventually(lambda: listener.listening, timeout=10, interval=0.02, what="the listener to listen")


@pytest.fixture
async def listener(pg_admin_url):
    channel = f"test_changes_{uuid.uuid4().hex[:12]}"
    changes = ChangeListener(pg_admin_url, channel, backoff=Backoff(base_s=0.05, max_s=0.2))
    await changes.start()
    yield changes
    await changes.stop()


async def _listening_connections(url: str, channel: str) -> int:
    async with await psycopg.AsyncConnection.connect(_dsn(url), autocommit=True) as admin:
        cur = await admin.execute("SELECT count(*) FROM pg_stat_activity WHERE query = %s", (f"LISTEN {channel}",))
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def test_it_connects_at_the_first_watch_and_wakes_that_stream(listener, pg_admin_url):
    await asyncio.sleep(0.2)
    assert not listener.listening and await _listening_connections(pg_admin_url, listener.channel) == 0
    with listener.watch(uuid.uuid4()) as event:
        await asyncio.wait_for(event.wait(), timeout=10)  # woken once it listens: read again
        assert listener.listening
        assert await _listening_connections(pg_admin_url, listener.channel) == 1
    with listener.watch(uuid.uuid4()):  # later watches share the one connection
        assert await _listening_connections(pg_admin_url, listener.channel) == 1


async def test_a_notification_wakes_only_the_streams_of_its_id(listener, pg_admin_url):
    mine, other = uuid.uuid4(), uuid.uuid4()
    with listener.watch(mine) as event, listener.watch(other) as unrelated:
        await _listening(listener)
        event.clear()
        unrelated.clear()
        await _notify(pg_admin_url, listener.channel, "not a uuid")  # ignored, the listener goes on
        await _notify(pg_admin_url, listener.channel, str(mine))
        await asyncio.wait_for(event.wait(), timeout=10)
        assert not unrelated.is_set()
        assert listener.listening
    assert not listener._waiters  # a stream that left is forgotten


async def test_a_lost_connection_is_listened_again_and_wakes_every_stream(listener, pg_admin_url):
    key = uuid.uuid4()
    with listener.watch(key) as event:
        await _listening(listener)
        event.clear()
        async with await psycopg.AsyncConnection.connect(_dsn(pg_admin_url), autocommit=True) as admin:
            killed = await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                (f"LISTEN {listener.channel}",),
            )
            assert (await killed.fetchall()) == [(True,)]
        await asyncio.wait_for(event.wait(), timeout=10)  # woken: the stream re-reads
        await _listening(listener)
        event.clear()
        await _notify(pg_admin_url, listener.channel, str(key))
        await asyncio.wait_for(event.wait(), timeout=10)  # and notifications arrive again


async def test_without_postgresql_it_does_not_listen(tmp_path):
    changes = ChangeListener(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "some_channel")
    await changes.start()
    key = uuid.uuid4()
    with changes.watch(key) as event:
        assert changes._task is None and not changes.listening
        changes.changed(key)  # a change this process knows of itself still wakes its streams
        assert event.is_set()
    await changes.stop()


def test_a_channel_that_is_not_a_plain_identifier_is_refused():
    with pytest.raises(ValueError, match="identifier"):
        ChangeListener("sqlite:///x.db", "changes; DROP TABLE x")


async def test_a_follower_reads_at_once_then_on_each_notification(listener, pg_admin_url):
    key = uuid.uuid4()
    reads = follow(listener, key, poll_s=0.05, keepalive_s=60.0)
    async with contextlib.aclosing(reads):
        await asyncio.wait_for(anext(reads), timeout=1)  # the first read is now
        await _listening(listener)
        await asyncio.wait_for(anext(reads), timeout=1)  # polled, or woken as it began listening
        began = time.monotonic()
        woken = asyncio.ensure_future(anext(reads))
        await asyncio.sleep(0.3)
        assert not woken.done()  # pushed: no polling while listening
        await _notify(pg_admin_url, listener.channel, str(key))
        await asyncio.wait_for(woken, timeout=10)
        assert time.monotonic() - began < 30  # the notification, not the keep-alive
    assert not listener._waiters  # closing the stream ends its watch


async def test_without_a_listener_a_follower_polls():
    reads = follow(None, uuid.uuid4(), poll_s=0.05, keepalive_s=60.0)
    async with contextlib.aclosing(reads):
        began = time.monotonic()
        for _ in range(4):
            await asyncio.wait_for(anext(reads), timeout=5)
        assert time.monotonic() - began < 5  # every poll_s, not every keep-alive
