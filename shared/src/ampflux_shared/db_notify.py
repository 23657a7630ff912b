"""Row changes pushed to waiting streams: one PostgreSQL LISTEN per process and channel.

A service's trigger NOTIFYs a channel with the id (a UUID) of what changed, whoever wrote
it. `ChangeListener` keeps one connection listening and wakes the streams that follow that
id; each then reads it once, so a thousand watchers cost one connection, and a process nobody
has watched from yet costs none (the first watch opens it). Without it (SQLite, before the
first watch, or while the connection is being re-established) `listening` is False and the
streams poll.
Every reconnect wakes every stream, since notifications sent meanwhile are lost. `follow` is
the loop of such a stream: when to read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import psycopg
from sqlalchemy import make_url

from .backoff import Backoff
from .tasks import cancel_and_wait

log = logging.getLogger("ampflux.db_notify")

# The channel is written into the LISTEN statement (it cannot be a bound parameter).
_CHANNEL = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class ChangeListener:
    def __init__(self, database_url: str, channel: str, *, backoff: Backoff | None = None) -> None:
        if not _CHANNEL.fullmatch(channel):
            raise ValueError(f"not a plain lower-case PostgreSQL identifier: {channel!r}")
        self.channel = channel
        url = make_url(database_url)
        self._dsn = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if url.get_backend_name() == "postgresql"
            else None
        )
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._backoff = backoff or Backoff(base_s=0.5, max_s=10.0)
        # True while notifications arrive: streams then only re-read on a wake-up (or now
        # and then, as a safety net); False means they poll.
        self.listening = False

    async def start(self) -> None:
        """From now on the first watch opens the listening connection: most starts of a
        service (a worker's, a replica nobody streams from) never need one."""
        self._started = True

    async def stop(self) -> None:
        self._started = False
        # Cancelled until it ends (a cancellation can be lost in the driver), without
        # swallowing a cancellation of the caller.
        await cancel_and_wait(self._task)
        self._task = None
        self.listening = False

    @contextlib.contextmanager
    def watch(self, key: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set whenever `key` changes (clear it before each read)."""
        if self._started and self._dsn is not None and self._task is None:
            # Connecting wakes every stream once it listens: until then they poll.
            self._task = asyncio.get_running_loop().create_task(self._listen(self._dsn), name=f"listen-{self.channel}")
        event = asyncio.Event()
        self._waiters[key].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[key]

    def changed(self, key: uuid.UUID) -> None:
        """Wake the streams following `key` (also for a change this process knows of itself)."""
        for event in self._waiters.get(key, ()):
            event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def _listen(self, dsn: str) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {self.channel}")
                    self.listening, attempt = True, 0
                    self._wake_all()  # anything missed while not listening is read now
                    async for notice in connection.notifies():
                        with contextlib.suppress(ValueError):  # a payload that is not an id: ignored
                            self.changed(uuid.UUID(notice.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listener on %s lost its connection (%s); streams poll meanwhile", self.channel, exc)
            self.listening = False
            self._wake_all()
            attempt += 1
            await asyncio.sleep(self._backoff.delay(attempt))


async def follow(
    changes: ChangeListener | None, key: uuid.UUID, *, poll_s: float, keepalive_s: float
) -> AsyncIterator[None]:
    """Yields now and after each change of `key`: each time, the stream reads it once.

    While `changes` is listening the wake-ups are pushed, and a read every `keepalive_s` is only
    a safety net; otherwise (no listener, SQLite, reconnecting) it polls every `poll_s`. Wrap it
    in `contextlib.aclosing` so the watch ends with the stream.
    """
    watching = changes.watch(key) if changes is not None else contextlib.nullcontext(asyncio.Event())
    with watching as changed:
        while True:
            changed.clear()  # before the read: a change during it wakes the next wait
            yield
            pushed = changes is not None and changes.listening
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), keepalive_s if pushed else poll_s)
