"""Generation belongs to the server: one background task per reply, followed by streams.

The task writes each event (token, tool_call, tool_result, complete, error) into the
`Generation` in memory and stores the finished (or failed) message itself. HTTP streams,
WebSockets and JSON answers only follow it from an event id, so a client that disconnects
loses nothing and one that re-attaches (`Last-Event-ID`) gets the rest. A finished generation
stays in memory `keep_s`; after that (or on another replica) the stored message answers.

Event ids are derived from the reply itself, not counted per process, so the memory of the
replica writing a reply and the stored message (another replica, or later) give every event the
same id and a client re-attaching anywhere gets exactly the rest. With `c` characters of text
delivered and `k` tool calls finished (their results written):

- a `token` event ending at character `c`: `c + 2k` (each character of text adds one);
- the `tool_call` of call `k + 1`: `c + 2k + 1`; its `tool_result`: `c + 2(k + 1)`;
- `complete` or `error` (always the last): `c + 2k + 2`.

Each tool call's record (stored on the message) keeps `text_offset`, the characters of text
written before it, so the stored text and tool calls give back the order of the events
(`stored_events`).
"""

from __future__ import annotations

import asyncio
import bisect
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


TOOL_OFFSET = "text_offset"  # a stored tool call's key: the characters of text written before it


def event_id(type: str, chars: int, tools_done: int) -> int:
    """The id of an event of `type` with `chars` characters of text delivered (a token: up to
    its end) and `tools_done` tool calls finished (a tool_result: its own included)."""
    base = chars + 2 * tools_done
    if type == "tool_call":
        return base + 1
    if type in ("complete", "error"):
        return base + 2
    return base  # token, tool_result


def stored_events(text: str, tool_calls: list[dict[str, Any]], after: int = 0) -> list[StreamEvent]:
    """The token, tool_call and tool_result events of a stored reply (its text and tool calls
    as stored so far) whose ids are above `after`, with the ids the writer gave them; the text
    between two tool calls comes as one token event (or the part of it after `after`)."""
    out: list[StreamEvent] = []
    cursor = 0

    def text_up_to(end: int, done: int) -> None:
        nonlocal cursor
        # Character i (0-based) has the id i + 1 + 2 * done: start at the first one above `after`.
        start = max(cursor, after - 2 * done)
        if end > start:
            out.append(StreamEvent(event_id("token", end, done), "token", {"text": text[start:end]}))
        cursor = max(cursor, end)

    previous = 0
    for done, call in enumerate(tool_calls):
        # A record stored before offsets were kept: taken as written where the one before it was.
        offset = min(max(int(call.get(TOOL_OFFSET, previous) or 0), previous), len(text))
        previous = offset
        text_up_to(offset, done)
        events = (
            ("tool_call", {"id": call.get("id"), "name": call.get("name"), "arguments": call.get("arguments")}),
            ("tool_result", {k: call.get(k) for k in ("id", "name", "ok", "result")}),
        )
        for type, data in events:
            number = event_id(type, offset, done + (type == "tool_result"))
            if number > after:
                out.append(StreamEvent(number, type, data))
    text_up_to(len(text), len(tool_calls))
    return out


@dataclass
class Generation:
    message_id: uuid.UUID
    events: list[StreamEvent] = field(default_factory=list)
    done: bool = False
    finished_at: float | None = None
    chars: int = 0  # characters of text emitted
    tools_done: int = 0  # tool results emitted
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        async with self._changed:
            if type == "token":
                self.chars += len(data.get("text") or "")
            elif type == "tool_result":
                self.tools_done += 1
            self.events.append(StreamEvent(event_id(type, self.chars, self.tools_done), type, data))
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
        # Ids grow by more than one: start after the last event with an id up to `after`.
        seen = bisect.bisect_right(self.events, after, key=lambda e: e.id)
        while True:

            def ready(n: int = seen) -> bool:
                return len(self.events) > n or self.done

            async with self._changed:
                await self._changed.wait_for(ready)
                fresh = self.events[seen:]
                finished = self.done
            seen += len(fresh)
            if fresh and fresh[0].type == "token" and fresh[0].id - len(fresh[0].data["text"]) < after:
                # `after` falls inside this token (ids count characters, so any id means a point
                # in the text, not only the writer's event ends): only its characters above it.
                first, text = fresh[0], fresh[0].data["text"]
                fresh = [StreamEvent(first.id, "token", {**first.data, "text": text[after - first.id :]}), *fresh[1:]]
            if fresh:
                yield fresh
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
