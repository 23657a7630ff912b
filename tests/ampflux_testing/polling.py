"""Waiting in tests: poll a condition until it holds, with a deadline, instead of sleeping.

`eventually` in async tests; `eventually_sync` where the test and its client are synchronous
(the e2e tests' gateway client), rather than a test made async only to wait."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

What = str | Callable[[], str]


async def eventually(
    check: Callable[[], Awaitable[Any] | Any], *, timeout: float = 15.0, what: What = "", interval: float = 0.05
) -> Any:
    """Poll `check` (plain or async) until it returns something truthy, and return that; fail
    naming `what` once `timeout` seconds have passed. `what` may be a function, called only on
    the failure, so the message can show the last state `check` saw (a body, a process's log)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, check)
        await asyncio.sleep(interval)


def eventually_sync(check: Callable[[], Any], *, timeout: float = 15.0, what: What = "", interval: float = 0.05) -> Any:
    """`eventually` for synchronous code: the same contract, sleeping between tries."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, check)
        time.sleep(interval)


def _timed_out(timeout: float, what: What, check: Callable[[], Any]) -> AssertionError:
    described = what() if callable(what) else what
    return AssertionError(f"timed out after {timeout} s waiting for {described or check}")
