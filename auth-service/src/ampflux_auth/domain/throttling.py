"""Login throttling against password guessing and credential stuffing.

Failed logins are counted in a sliding window, per account (the email as typed, whether or
not it exists, so throttling itself reveals nothing) and per client address (stuffing
tries many accounts from one place). The counts live in the database so every replica
sees the same numbers. A blocked attempt is not counted and its password is not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import LoginAttempt


@dataclass(frozen=True)
class LoginLimits:
    window_s: int
    per_account: int
    per_address: int


@dataclass(frozen=True)
class Throttle:
    scope: str  # "account" or "address"
    retry_after_s: int


async def _blocked_until(session: AsyncSession, column, value: str, limit: int, window: timedelta, now: datetime):
    # The `limit` most recent failures in the window; once the oldest of them leaves the
    # window fewer than `limit` remain, so that is when attempts are allowed again.
    stmt = (
        select(LoginAttempt.created_at)
        .where(column == value, LoginAttempt.created_at > now - window)
        .order_by(LoginAttempt.created_at.desc())
        .limit(limit)
    )
    recent = (await session.scalars(stmt)).all()
    if len(recent) < limit:
        return None
    return min(recent) + window


async def check_login_allowed(
    session: AsyncSession, *, email: str, client_address: str, limits: LoginLimits
) -> Throttle | None:
    now = datetime.now(UTC)
    window = timedelta(seconds=limits.window_s)
    for scope, column, value, limit in (
        ("account", LoginAttempt.email, email, limits.per_account),
        ("address", LoginAttempt.client_address, client_address, limits.per_address),
    ):
        until = await _blocked_until(session, column, value, limit, window, now)
        if until is not None:
            return Throttle(scope=scope, retry_after_s=max(1, math.ceil((until - now).total_seconds())))
    return None


async def record_login_failure(session: AsyncSession, *, email: str, client_address: str, limits: LoginLimits) -> None:
    now = datetime.now(UTC)
    session.add(LoginAttempt(email=email, client_address=client_address[:64], created_at=now))
    # Rows older than the window count for nothing: drop them here rather than in a job.
    await session.execute(
        delete(LoginAttempt).where(LoginAttempt.created_at <= now - timedelta(seconds=limits.window_s))
    )
