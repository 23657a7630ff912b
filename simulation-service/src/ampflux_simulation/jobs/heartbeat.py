"""The worker's heartbeat on the run it is solving: a `running` run whose worker died (killed,
its machine gone) stays `running` until the broker redelivers the job; the heartbeat's age
tells anyone looking that nobody is working on it meanwhile.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow

from ..models import RunStatus, StudyRun

# How often a solving worker beats (piggybacked on its cancel checks), and after how long
# without a beat a running run is reported stale: several missed beats, not one slow query.
HEARTBEAT_S = 5.0
STALE_AFTER_S = 30.0


async def beat(session: AsyncSession, run_id: uuid.UUID, worker_id: str) -> None:
    await session.execute(
        update(StudyRun)
        .where(StudyRun.id == run_id, StudyRun.status == RunStatus.RUNNING, StudyRun.worker_id == worker_id[:200])
        .values(worker_heartbeat_at=utcnow())
    )


def heartbeat_age_s(run: StudyRun, now: datetime | None = None) -> float | None:
    """Seconds since the worker's last beat while the run is running, else None."""
    if run.run_status is not RunStatus.RUNNING or run.worker_heartbeat_at is None:
        return None
    return max(((now or utcnow()) - run.worker_heartbeat_at).total_seconds(), 0.0)


def is_stale(run: StudyRun, now: datetime | None = None) -> bool:
    age = heartbeat_age_s(run, now)
    return age is not None and age > STALE_AFTER_S


async def oldest_heartbeat_age_s(session: AsyncSession, now: datetime | None = None) -> float:
    """Seconds since the oldest last beat among running runs (0 when none runs): above
    `STALE_AFTER_S`, some run's worker has stopped beating (the metric the alert watches)."""
    oldest = await session.scalar(
        select(func.min(StudyRun.worker_heartbeat_at)).where(
            StudyRun.status == RunStatus.RUNNING, StudyRun.worker_heartbeat_at.is_not(None)
        )
    )
    return 0.0 if oldest is None else max(((now or utcnow()) - oldest).total_seconds(), 0.0)
