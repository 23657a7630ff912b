"""Stopping a background task for sure: `cancel_and_wait`.

`task.cancel()` asks once, and the request can be lost inside a library. aio-pika/aiormq
turn a cancellation that lands while a channel opens into a `RuntimeError` ("connection
closed"), or finish the call normally; a refresher loop that catches `Exception` to live
through an outage then simply goes on. Awaiting such a task after one `cancel()` waits
forever, and `contextlib.suppress(asyncio.CancelledError)` around that await also swallows
the cancellation of whoever is waiting (a shutdown timeout then fires without effect).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("ampflux.tasks")


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, retry_s: float = 0.5) -> None:
    """Cancel `task` and return once it has ended, cancelling it again every `retry_s` while
    it runs on (a cancellation it lost). What it ended with is dropped (an error is logged).
    A cancellation of the caller is not swallowed: it propagates at once."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_s)
        if not task.done():
            log.warning("task %s ran on after it was cancelled; cancelling it again", task.get_name())
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s ended with an error", task.get_name(), exc_info=task.exception())
