"""Infrastructure faults: waited out in process, never charged to the job.

A database that is restarting or a broker channel that closed says nothing about the job,
so they must not spend the queue's delivery limit, which exists to stop poison jobs (only a
solver crash counts towards it). The step is retried with the shared Backoff (full jitter,
so a fleet of workers does not come back in step) until it succeeds or the worker stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiormq.exceptions
from sqlalchemy import exc as sa_exc

from ampflux_shared.backoff import Backoff

log = logging.getLogger("ampflux.simulation.jobs")

T = TypeVar("T")

# What an unreachable or restarting PostgreSQL or RabbitMQ raises (psycopg's errors come
# wrapped in SQLAlchemy's OperationalError/InterfaceError).
_TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the connection pool's wait
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    OSError,
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
            log.warning(
                "%s: infrastructure error (%s: %s); retry %d in %.2f s", what, type(exc).__name__, exc, attempt, delay
            )
            await asyncio.sleep(delay)
