"""`cancel_and_wait`: a task that loses a cancellation is cancelled again; the caller's own
cancellation is never swallowed."""

from __future__ import annotations

import asyncio
import time

import pytest

from ampflux_shared.tasks import cancel_and_wait


async def _refresher(passes: list[str], lose: int) -> None:
    """A refresher loop that survives errors, whose first `lose` cancellations come back as
    errors (what aio-pika does with one that lands while a channel opens)."""
    while True:
        try:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                if lose <= 0:
                    raise
                lose -= 1
                raise RuntimeError("connection closed") from None
        except Exception:
            passes.append("error")


async def test_a_task_that_loses_cancellations_is_cancelled_until_it_ends():
    passes: list[str] = []
    task = asyncio.create_task(_refresher(passes, lose=2))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await cancel_and_wait(task, retry_s=0.05)
    assert task.cancelled()
    assert passes == ["error", "error"]
    assert time.monotonic() - started < 2


async def test_an_ended_or_missing_task_returns_at_once():
    await cancel_and_wait(None)
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    await cancel_and_wait(task)


async def test_the_callers_cancellation_propagates():
    passes: list[str] = []
    task = asyncio.create_task(_refresher(passes, lose=1))
    await asyncio.sleep(0.01)
    stopper = asyncio.create_task(cancel_and_wait(task, retry_s=10))
    await asyncio.sleep(0.05)  # the first cancellation is lost; the stopper waits to retry
    assert not stopper.done()
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert passes == ["error"] and not task.done()
    await cancel_and_wait(task)
    assert task.cancelled()
