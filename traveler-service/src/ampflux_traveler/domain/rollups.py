"""Daily rollups of labor and sign-offs, added to in the transaction of each closed labor
log and each sign-off (one upsert per table), so the reports never scan the raw history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import LaborLog, LaborOperatorDay, LaborStepDay, SignoffOperatorDay, SignoffStepDay, StepExecution


def _day(at: datetime) -> Any:
    return at.astimezone(UTC).date()


async def _add(session: AsyncSession, model: Any, keys: dict[str, Any], amounts: dict[str, Any]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = model.__table__
    stmt = insert(table).values(**keys, **amounts)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={k: table.c[k] + stmt.excluded[k] for k in amounts}
    )
    await session.execute(stmt)


async def add_labor(session: AsyncSession, log: LaborLog) -> None:
    """A log just closed: its minutes count on the day it was clocked in."""
    base = {"company_id": log.company_id, "day": _day(log.clock_in), "traveler_type": log.traveler_type}
    amounts = {"minutes": log.minutes or 0.0, "logs": 1}
    await _add(session, LaborStepDay, {**base, "step_name": log.step_name}, amounts)
    await _add(session, LaborOperatorDay, {**base, "operator_id": log.operator_id}, amounts)


async def add_signoff(session: AsyncSession, execution: StepExecution) -> None:
    """An execution just signed off: its units and earned standard minutes, on its day."""
    assert execution.completed_at is not None and execution.signed_off_by is not None
    units = execution.qty_passed + execution.qty_failed
    earned = units * execution.standard_minutes
    base = {
        "company_id": execution.company_id,
        "day": _day(execution.completed_at),
        "traveler_type": execution.traveler_type,
    }
    await _add(
        session,
        SignoffStepDay,
        {**base, "step_position": execution.step_position, "step_name": execution.step_name, "kind": execution.kind},
        {"units": units, "passed": execution.qty_passed, "earned_minutes": earned},
    )
    await _add(
        session,
        SignoffOperatorDay,
        {**base, "operator_id": execution.signed_off_by},
        {"units": units, "earned_minutes": earned},
    )
