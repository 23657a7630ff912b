"""Coating logs: thickness readings against the spec, cure, who and when."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import conflict, field_error, validation_failed
from ampflux_shared.security import Principal

from ..models import CoatingLog, TravelerStep
from . import roles
from .common import get_traveler


def judge(readings: list[float], spec_min: float, spec_max: float) -> dict[str, Any]:
    """Min, max and mean of the readings, and whether every one is within the spec."""
    low, high = min(readings), max(readings)
    return {
        "thickness_min": low,
        "thickness_max": high,
        "thickness_mean": sum(readings) / len(readings),
        "passed": spec_min <= low and high <= spec_max,
    }


async def log_coating(
    session: AsyncSession, principal: Principal, traveler_id: uuid.UUID, data: dict[str, Any]
) -> CoatingLog:
    roles.require(principal, roles.COATING, "logging coating")
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    if traveler.status in ("draft", "completed", "cancelled"):
        raise conflict(f"traveler {traveler.number} is {traveler.status}", slug="traveler-not-active")
    if data.get("step_id") is not None:
        step = await session.scalar(
            select(TravelerStep).where(TravelerStep.id == data["step_id"], TravelerStep.traveler_id == traveler.id)
        )
        if step is None:  # a reference in the body: bad input, not a missing resource
            raise validation_failed([field_error("step_id", "no such step on this traveler", "unknown_step")])
    log = CoatingLog(
        company_id=traveler.company_id,
        traveler_id=traveler.id,
        recorded_by=principal.user_id,
        **data,
        **judge(data["readings"], data["spec_min"], data["spec_max"]),
    )
    session.add(log)
    await session.flush()
    return log
