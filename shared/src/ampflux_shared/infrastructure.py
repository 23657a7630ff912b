"""Infrastructure faults: waited out in process, never charged to the job.

A database that is restarting or a broker channel that closed says nothing about the job a
worker is doing (a simulation run, a pipeline execution), so it must neither fail that job
nor spend the queue's delivery limit, which exists to stop poison jobs. The step is retried
with a `Backoff` (full jitter, so a fleet of workers does not come back in step) until it
succeeds or the worker stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiormq.exceptions
from sqlalchemy import exc as sa_exc

from .backoff import Backoff

log = logging.getLogger("ampflux.infrastructure")

T = TypeVar("T")

# What an unreachable or restarting PostgreSQL or RabbitMQ raises (psycopg's errors come
# wrapped in SQLAlchemy's OperationalError/InterfaceError). OSError covers the socket errors
# a driver lets through unwrapped (ConnectionError and TimeoutError are kinds of it).
_TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the connection pool's wait
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    OSError,
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
            log.warning(
                "%s: infrastructure error (%s: %s); retry %d in %.2f s", what, type(exc).__name__, exc, attempt, delay
            )
            await asyncio.sleep(delay)
