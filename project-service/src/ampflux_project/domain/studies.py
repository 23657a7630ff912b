"""The latest study of each circuit version, recorded from the simulation service's events.

Runs finish (and their events arrive) in any order, and the bus delivers at least once.
The inbox (see `events`) drops exact redeliveries; this module makes the rest safe: a run
is stored only if it finished after the stored one, so an old event delivered late never
hides a newer result.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow

from ..models import Circuit, CircuitVersion, Project, VersionStudy

log = logging.getLogger("ampflux.project.studies")

# Each dialect has its own Insert class with ON CONFLICT; the two agree on what is used here.
_INSERTS: dict[str, Callable[[type[VersionStudy]], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
ERROR_CODE_MAX = 64  # VersionStudy.error_code's length


@dataclass(frozen=True)
class FinishedRun:
    """What a `simulation.run.completed` or `.failed` event says about one run."""

    run_id: uuid.UUID
    company_id: uuid.UUID
    circuit_version_id: uuid.UUID
    status: str  # "succeeded" | "failed"
    finished_at: datetime
    solve_seconds: float | None = None
    bus_count: int | None = None
    error_code: str | None = None
    detail: str | None = None


async def record_finished_run(session: AsyncSession, run: FinishedRun) -> bool:
    """Make `run` the version's latest study unless a later one is stored; True if stored.

    A version id that is not a version of the run's company is ignored: the simulation
    service names inline what-if runs with synthetic ids no version has, and a run must
    never attach to another company's version.
    """
    if not await _version_in_company(session, run.circuit_version_id, run.company_id):
        log.info(
            "run %s: circuit version %s is not a version of company %s (inline what-if or deleted); ignored",
            run.run_id,
            run.circuit_version_id,
            run.company_id,
        )
        return False
    values = {
        "circuit_version_id": run.circuit_version_id,
        "company_id": run.company_id,
        "run_id": run.run_id,
        "status": run.status,
        "finished_at": run.finished_at,
        "solve_seconds": run.solve_seconds,
        "bus_count": run.bus_count,
        "error_code": run.error_code[:ERROR_CODE_MAX] if run.error_code is not None else None,
        "detail": run.detail,
        "updated_at": utcnow(),
    }
    insert = _INSERTS[session.get_bind().dialect.name]
    stmt = insert(VersionStudy).values(**values)
    # One statement decides "newer?" and writes, so two consumers handling two runs of the
    # same version at once cannot interleave a check and a write.
    upsert = stmt.on_conflict_do_update(
        index_elements=["circuit_version_id"],
        set_={k: stmt.excluded[k] for k in values if k != "circuit_version_id"},
        where=VersionStudy.finished_at < stmt.excluded.finished_at,
    ).returning(VersionStudy.circuit_version_id)
    stored = (await session.execute(upsert)).first() is not None
    if not stored:
        log.info("run %s of version %s finished before the stored study; ignored", run.run_id, run.circuit_version_id)
    return stored


async def _version_in_company(session: AsyncSession, version_id: uuid.UUID, company_id: uuid.UUID) -> bool:
    # FOR SHARE (PostgreSQL) keeps the version from being deleted before the upsert commits,
    # which would otherwise fail its foreign key and send the event round again.
    found = await session.scalar(
        select(CircuitVersion.id)
        .join(Circuit, Circuit.id == CircuitVersion.circuit_id)
        .join(Project, Project.id == Circuit.project_id)
        .where(CircuitVersion.id == version_id, Project.company_id == company_id)
        .with_for_update(read=True, of=CircuitVersion)
    )
    return found is not None
