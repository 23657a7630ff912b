"""Infrastructure faults (database, broker) are waited out in process, never charged to the
execution: a restarting PostgreSQL says nothing about the pipeline, so it must neither fail a
step nor spend the queue's delivery limit. The shape of the simulation worker's rule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiormq.exceptions
from sqlalchemy import exc as sa_exc

from ampflux_shared.backoff import Backoff

log = logging.getLogger("ampflux.ai.pipelines")

T = TypeVar("T")

_TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    TimeoutError,
)


def is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _TRANSIENT)


async def retry_infrastructure(step: Callable[[], Awaitable[T]], *, what: str, backoff: Backoff) -> T:
    """Run `step` until it succeeds; infrastructure errors wait and retry, others raise."""
    attempt = 0
    while True:
        try:
            return await step()
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            attempt += 1
            delay = backoff.delay(attempt)
            log.warning("%s: %s: %s; retry %d in %.2f s", what, type(exc).__name__, exc, attempt, delay)
            await asyncio.sleep(delay)
