"""Reports, aggregated in SQL (one or two grouped queries each, on indexed columns), so
they stay fast at 10k travelers / 100k step executions / 200k labor logs.

Every report takes a date range (inclusive days, UTC) and an optional traveler type, and
answers `{"filters": ..., "rows": [flat dicts], ...}`; `rows` is also the CSV form.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date as _Date
from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from ..models import (
    CoatingLog,
    LaborOperatorDay,
    LaborStepDay,
    SerialUnit,
    SignoffOperatorDay,
    SignoffStepDay,
    Traveler,
    UnitStepResult,
)

WIP = ("released", "in_progress", "on_hold")
OPEN = ("draft", *WIP)


@dataclass(frozen=True)
class Filters:
    company_id: uuid.UUID
    date_from: date | None = None
    date_to: date | None = None
    traveler_type: str | None = None

    def window(self, column: Any) -> list[ColumnElement[bool]]:
        """`column` (a UTC timestamp) within [date_from 00:00, date_to + 1 day 00:00)."""
        out: list[ColumnElement[bool]] = []
        if self.date_from:
            out.append(column >= datetime.combine(self.date_from, time(), UTC))
        if self.date_to:
            out.append(column < datetime.combine(self.date_to + timedelta(days=1), time(), UTC))
        return out

    def days(self, column: Any) -> list[ColumnElement[bool]]:
        """A DATE column within [date_from, date_to]."""
        out: list[ColumnElement[bool]] = []
        if self.date_from:
            out.append(column >= self.date_from)
        if self.date_to:
            out.append(column <= self.date_to)
        return out

    def typed_as(self, column: Any) -> list[ColumnElement[bool]]:
        return [column == self.traveler_type] if self.traveler_type else []

    def typed(self) -> list[ColumnElement[bool]]:
        return [Traveler.traveler_type == self.traveler_type] if self.traveler_type else []

    def echo(self) -> dict[str, Any]:
        return {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "traveler_type": self.traveler_type,
        }


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _seconds_between(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    if _dialect(session) == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp, comparable with a DATE column."""
    if _dialect(session) == "postgresql":
        return cast(func.timezone("UTC", column), _Date)
    return func.date(column)


def _period(session: AsyncSession, column: Any, period: str) -> ColumnElement[Any]:
    """`YYYY-MM` for months; the Monday `YYYY-MM-DD` for weeks (UTC)."""
    if _dialect(session) == "postgresql":
        local = func.timezone("UTC", column)
        if period == "week":
            return func.to_char(func.date_trunc("week", local), "YYYY-MM-DD")
        return func.to_char(local, "YYYY-MM")
    if period == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.strftime("%Y-%m", column)


def _ratio(part: float | int | None, whole: float | int | None) -> float | None:
    return round(float(part or 0) / float(whole), 4) if whole else None


# --- dashboard ------------------------------------------------------------------------


async def dashboard_stats(session: AsyncSession, f: Filters, *, today: date) -> dict[str, Any]:
    """WIP by status and by current step, due this week, late, on hold (travelers created
    in the range, of the type)."""
    base = [Traveler.company_id == f.company_id, *f.window(Traveler.created_at), *f.typed()]
    week_end = today + timedelta(days=6)
    open_ = Traveler.status.in_(OPEN)
    totals = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(and_(open_, Traveler.due_date >= today, Traveler.due_date <= week_end)),
                func.count().filter(and_(open_, Traveler.due_date < today)),
                func.count().filter(Traveler.status == "on_hold"),
            ).where(*base)
        )
    ).one()
    by_status = dict(
        (await session.execute(select(Traveler.status, func.count()).where(*base).group_by(Traveler.status))).all()
    )
    by_step = (
        await session.execute(
            select(Traveler.current_step, func.count())
            .where(*base, Traveler.status.in_(WIP))
            .group_by(Traveler.current_step)
            .order_by(func.count().desc(), Traveler.current_step)
        )
    ).all()
    stats = {
        "total": totals[0],
        "due_this_week": totals[1],
        "late": totals[2],
        "on_hold": totals[3],
        "wip": sum(by_status.get(s, 0) for s in WIP),
    }
    rows: list[dict[str, Any]] = [{"metric": k, "key": "", "value": v} for k, v in stats.items()]
    rows += [{"metric": "status", "key": s, "value": n} for s, n in sorted(by_status.items())]
    rows += [{"metric": "wip_step", "key": step or "", "value": n} for step, n in by_step]
    return {
        "filters": {**f.echo(), "today": today.isoformat()},
        **stats,
        "by_status": by_status,
        "wip_by_step": [{"step": step, "count": n} for step, n in by_step],
        "rows": rows,
    }


# --- completion -----------------------------------------------------------------------


async def traveler_completion(session: AsyncSession, f: Filters, *, period: str) -> dict[str, Any]:
    """Completed travelers (completed in the range) by type and period: count, on-time
    rate (completed on or before the due day; travelers without a due date count as on
    time) and mean lead time from release to completion."""
    lead = _seconds_between(session, Traveler.released_at, Traveler.completed_at)
    on_time = case(
        (Traveler.due_date.is_(None), 1), (_day(session, Traveler.completed_at) <= Traveler.due_date, 1), else_=0
    )
    bucket = _period(session, Traveler.completed_at, period).label("period")
    query = (
        select(
            Traveler.traveler_type,
            bucket,
            func.count(),
            func.sum(on_time),
            func.avg(lead),
        )
        .where(
            Traveler.company_id == f.company_id,
            Traveler.status == "completed",
            *f.window(Traveler.completed_at),
            *f.typed(),
        )
        .group_by(Traveler.traveler_type, bucket)
        .order_by(Traveler.traveler_type, bucket)
    )
    rows = [
        {
            "traveler_type": ttype,
            "period": str(bucket_value),
            "completed": n,
            "on_time": int(ok or 0),
            "on_time_rate": _ratio(ok, n),
            "mean_lead_time_hours": round(float(avg) / 3600.0, 4) if avg is not None else None,
        }
        for ttype, bucket_value, n, ok, avg in (await session.execute(query)).all()
    ]
    done = sum(r["completed"] for r in rows)
    return {
        "filters": {**f.echo(), "period": period},
        "completed": done,
        "on_time_rate": _ratio(sum(r["on_time"] for r in rows), done),
        "rows": rows,
    }


# --- labor ----------------------------------------------------------------------------


async def labor_efficiency(session: AsyncSession, f: Filters) -> dict[str, Any]:
    """Actual minutes (closed labor logs clocked in within the range) against standard
    minutes earned (units signed off within the range × the step's standard minutes per
    unit, first pass and rework alike), per step and per operator (who signed off).
    Read from the daily rollups."""

    async def summed(model: Any, key: Any, *columns: Any) -> dict[Any, tuple[Any, ...]]:
        query = (
            select(key, *(func.sum(c) for c in columns))
            .where(model.company_id == f.company_id, *f.days(model.day), *f.typed_as(model.traveler_type))
            .group_by(key)
        )
        return {row[0]: tuple(row[1:]) for row in (await session.execute(query)).all()}

    actual_step = {
        k: v[0] for k, v in (await summed(LaborStepDay, LaborStepDay.step_name, LaborStepDay.minutes)).items()
    }
    earned_step = await summed(
        SignoffStepDay, SignoffStepDay.step_name, SignoffStepDay.earned_minutes, SignoffStepDay.units
    )
    actual_op = {
        k: v[0]
        for k, v in (await summed(LaborOperatorDay, LaborOperatorDay.operator_id, LaborOperatorDay.minutes)).items()
    }
    earned_op = await summed(
        SignoffOperatorDay, SignoffOperatorDay.operator_id, SignoffOperatorDay.earned_minutes, SignoffOperatorDay.units
    )

    def line(kind: str, key: Any, actual: float | None, std_units: tuple[Any, ...] | None) -> dict[str, Any]:
        std, n = std_units or (0.0, 0)
        return {
            "by": kind,
            "key": str(key),
            "units": int(n or 0),
            "actual_minutes": round(float(actual or 0.0), 4),
            "standard_minutes": round(float(std or 0.0), 4),
            "efficiency": _ratio(std, actual),
        }

    steps = [
        line("step", k, actual_step.get(k), earned_step.get(k)) for k in sorted(set(actual_step) | set(earned_step))
    ]
    operators = [
        line("operator", k, actual_op.get(k), earned_op.get(k))
        for k in sorted(set(actual_op) | set(earned_op), key=str)
        if k is not None
    ]
    total_actual = sum(r["actual_minutes"] for r in steps)
    total_std = sum(r["standard_minutes"] for r in steps)
    return {
        "filters": f.echo(),
        "actual_minutes": round(total_actual, 4),
        "standard_minutes": round(total_std, 4),
        "efficiency": _ratio(total_std, total_actual),
        "by_step": steps,
        "by_operator": operators,
        "rows": steps + operators,
    }


# --- coating --------------------------------------------------------------------------


async def coating_status(session: AsyncSession, f: Filters) -> dict[str, Any]:
    """Coating logs recorded in the range by coating type: passed, failed, pass rate,
    thickness extremes and the mean of the logs' means."""
    query = select(
        CoatingLog.coating_type,
        func.count(),
        func.count().filter(CoatingLog.passed.is_(True)),
        func.min(CoatingLog.thickness_min),
        func.max(CoatingLog.thickness_max),
        func.avg(cast(CoatingLog.thickness_mean, Float)),
    ).where(CoatingLog.company_id == f.company_id, *f.window(CoatingLog.recorded_at), *f.typed())
    if f.traveler_type:
        query = query.join(Traveler, Traveler.id == CoatingLog.traveler_id)
    query = query.group_by(CoatingLog.coating_type).order_by(CoatingLog.coating_type)
    rows = [
        {
            "coating_type": ctype,
            "logs": n,
            "passed": int(ok or 0),
            "failed": n - int(ok or 0),
            "pass_rate": _ratio(ok, n),
            "thickness_min": lo,
            "thickness_max": hi,
            "thickness_mean": round(float(mean), 4) if mean is not None else None,
        }
        for ctype, n, ok, lo, hi, mean in (await session.execute(query)).all()
    ]
    logs = sum(r["logs"] for r in rows)
    return {
        "filters": f.echo(),
        "logs": logs,
        "pass_rate": _ratio(sum(r["passed"] for r in rows), logs),
        "rows": rows,
    }


# --- first-pass yield -----------------------------------------------------------------


async def first_pass_yield(session: AsyncSession, f: Filters) -> dict[str, Any]:
    """Per type and step, units that passed the first time over units tried the first
    time (first-pass executions signed off in the range; where a traveler has serials, a
    sign-off's counts are exactly its per-unit results). Per type, serial units whose
    results in the range never failed, over serial units with results in the range."""
    steps = (
        await session.execute(
            select(
                SignoffStepDay.traveler_type,
                SignoffStepDay.step_position,
                SignoffStepDay.step_name,
                func.sum(SignoffStepDay.units),
                func.sum(SignoffStepDay.passed),
            )
            .where(
                SignoffStepDay.company_id == f.company_id,
                SignoffStepDay.kind == "first",
                *f.days(SignoffStepDay.day),
                *f.typed_as(SignoffStepDay.traveler_type),
            )
            .group_by(SignoffStepDay.traveler_type, SignoffStepDay.step_position, SignoffStepDay.step_name)
            .order_by(SignoffStepDay.traveler_type, SignoffStepDay.step_position, SignoffStepDay.step_name)
        )
    ).all()
    rows = [
        {
            "traveler_type": ttype,
            "position": position,
            "step": name,
            "units": int(n or 0),
            "first_pass": int(ok or 0),
            "yield": _ratio(ok, n),
        }
        for ttype, position, name, n, ok in steps
    ]
    per_unit = (
        select(
            Traveler.traveler_type.label("traveler_type"),
            UnitStepResult.unit_id.label("unit_id"),
            func.min(case((UnitStepResult.passed.is_(True), 1), else_=0)).label("clean"),
        )
        .join(SerialUnit, SerialUnit.id == UnitStepResult.unit_id)
        .join(Traveler, Traveler.id == SerialUnit.traveler_id)
        .where(UnitStepResult.company_id == f.company_id, *f.window(UnitStepResult.recorded_at), *f.typed())
        .group_by(Traveler.traveler_type, UnitStepResult.unit_id)
        .subquery()
    )
    units = (
        await session.execute(
            select(per_unit.c.traveler_type, func.count(), func.sum(per_unit.c.clean))
            .group_by(per_unit.c.traveler_type)
            .order_by(per_unit.c.traveler_type)
        )
    ).all()
    by_type = [
        {"traveler_type": t, "serial_units": n, "first_pass_units": int(ok or 0), "yield": _ratio(ok, n)}
        for t, n, ok in units
    ]
    return {"filters": f.echo(), "rows": rows, "serial_units": by_type}
