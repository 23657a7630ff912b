"""Generation belongs to the server: one background task per reply, followed by streams.

The task writes each event (token, tool_call, tool_result, complete, error) into the
`Generation` in memory and stores the finished (or failed) message itself. HTTP streams,
WebSockets and JSON answers only follow it from an event id, so a client that disconnects
loses nothing and one that re-attaches (`Last-Event-ID`) gets the rest. A finished generation
stays in memory `keep_s`; after that (or on another replica) the stored message answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("ampflux.ai.generation")


@dataclass(frozen=True)
class StreamEvent:
    id: int
    type: str
    data: dict[str, Any]


@dataclass
class Generation:
    message_id: uuid.UUID
    events: list[StreamEvent] = field(default_factory=list)
    done: bool = False
    finished_at: float | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        async with self._changed:
            self.events.append(StreamEvent(len(self.events) + 1, type, data))
            if type in ("complete", "error"):
                self.done = True
                self.finished_at = time.monotonic()
            self._changed.notify_all()

    async def follow(self, after: int = 0) -> AsyncIterator[StreamEvent]:
        """Every event with an id above `after`, then the ones still to come, until the end."""
        async for batch in self.batches(after):
            for event in batch:
                yield event

    async def batches(self, after: int = 0) -> AsyncIterator[list[StreamEvent]]:
        """Like `follow`, but everything that arrived since the last wake-up at once: a slow
        reader (or a busy server) writes one chunk per batch instead of one per token."""
        seen = after
        while True:

            def ready(n: int = seen) -> bool:
                return len(self.events) > n or self.done

            async with self._changed:
                await self._changed.wait_for(ready)
                fresh = self.events[seen:]
                finished = self.done
            if fresh:
                yield fresh
            seen += len(fresh)
            if finished and seen >= len(self.events):
                return


class GenerationHub:
    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self._live: dict[uuid.UUID, Generation] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, message_id: uuid.UUID) -> Generation | None:
        self._prune()
        return self._live.get(message_id)

    def start(self, message_id: uuid.UUID, work: Callable[[Generation], Coroutine[Any, Any, None]]) -> Generation:
        self._prune()
        generation = Generation(message_id)
        self._live[message_id] = generation
        # Not tied to the request: the reply is written even if every client goes away.
        task = asyncio.create_task(self._run(generation, work), name=f"ai-generation-{message_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return generation

    async def abandon(
        self, message_id: uuid.UUID, why: str = "the reply could not be started", *, status: int = 503
    ) -> None:
        """Stop a generation whose message was never stored (its start failed) and forget it."""
        generation = self._live.pop(message_id, None)
        for task in list(self._tasks):
            if task.get_name() == f"ai-generation-{message_id}":
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if generation is not None and not generation.done:
            await generation.emit("error", {"message_id": str(message_id), "message": why, "status": status})

    async def _run(self, generation: Generation, work: Callable[[Generation], Coroutine[Any, Any, None]]) -> None:
        try:
            await work(generation)
        except Exception as exc:  # the runner stores failures itself; this is the last guard
            log.exception("generation %s crashed", generation.message_id)
            if not generation.done:
                await generation.emit("error", {"message": f"internal error: {type(exc).__name__}"})

    def _prune(self) -> None:
        now = time.monotonic()
        for mid, g in list(self._live.items()):
            if g.done and g.finished_at is not None and now - g.finished_at > self.keep_s:
                del self._live[mid]

    async def drain(self, timeout_s: float = 10.0) -> None:
        """At shutdown: let running replies finish (and be stored) for a while, then cancel."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
