"""Execution changes pushed to the event streams: one PostgreSQL LISTEN per API process.

Migration 0003's triggers NOTIFY `ai_pipeline_execution_changed` with the execution id when a
step row changes or the execution's status does, whoever wrote it (a worker, the API's
cancel). This process keeps one connection listening and wakes the streams that follow that
execution; each then reads it once. Without it (SQLite, or while the connection is being
re-established) the streams poll. (The shape of the simulation service's run changes.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator

import psycopg
from sqlalchemy import make_url

from ampflux_shared.backoff import Backoff

log = logging.getLogger("ampflux.ai.execution_changes")

CHANNEL = "ai_pipeline_execution_changed"


class ExecutionChanges:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._dsn = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if url.get_backend_name() == "postgresql"
            else None
        )
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._backoff = Backoff(base_s=0.5, max_s=10.0)
        # True while notifications arrive; False: the streams poll.
        self.listening = False

    async def start(self) -> None:
        if self._dsn is not None:
            self._task = asyncio.create_task(self._listen(self._dsn), name="ai-execution-changes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.listening = False

    @contextlib.contextmanager
    def watch(self, execution_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set whenever the execution changes (clear it before each read)."""
        event = asyncio.Event()
        self._waiters[execution_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(execution_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[execution_id]

    def _wake(self, execution_id: uuid.UUID) -> None:
        for event in self._waiters.get(execution_id, ()):
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
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.listening, attempt = True, 0
                    self._wake_all()  # anything missed while not listening is read now
                    async for notice in connection.notifies():
                        with contextlib.suppress(ValueError):
                            self._wake(uuid.UUID(notice.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("execution change listener lost its connection (%s); streams poll meanwhile", exc)
            self.listening = False
            self._wake_all()
            attempt += 1
            await asyncio.sleep(self._backoff.delay(attempt))
