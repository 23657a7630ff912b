"""Login throttling against password guessing and credential stuffing, without lockouts.

Failed logins are counted in a sliding window in three ways, each with its own free
allowance; past it, each further attempt waits twice as long as the one before (1 s, 2 s,
4 s, ... up to a cap), counted from the last failure:

- per account and address: one client guessing one account;
- per account, from addresses the account has never logged in from: guessing from many
  places. The account's known clients (addresses it logged in from successfully) are not
  held back by it, so an attacker elsewhere cannot lock the owner out;
- per address, across accounts: stuffing many accounts from one place.

The account is the email as typed, whether or not it exists, so throttling itself reveals
nothing. The counts live in the database so every replica sees the same numbers. A blocked
attempt is not counted and its password is not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import KnownLoginClient, LoginAttempt


def utcnow() -> datetime:
    """The throttle's clock: one place, so tests move it instead of waiting out a backoff."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoginLimits:
    window_s: int
    per_account: int
    per_address: int
    # The longest single wait; the backoff doubles up to it.
    max_backoff_s: int = 300
    # How long a successful login keeps its address known to the account.
    known_client_s: int = 90 * 24 * 3600


@dataclass(frozen=True)
class Throttle:
    scope: str  # "account" or "address"
    retry_after_s: int


def backoff_s(failures: int, allowance: int, cap_s: int) -> float:
    """The wait after `failures` failures: none within the allowance, then 1, 2, 4... s up to the cap."""
    if failures < allowance:
        return 0.0
    return float(min(cap_s, 2 ** min(failures - allowance, 30)))


async def _wait_s(
    session: AsyncSession, condition: ColumnElement[bool], allowance: int, limits: LoginLimits, now: datetime
) -> float:
    since = now - timedelta(seconds=limits.window_s)
    count, last = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.created_at)).where(condition, LoginAttempt.created_at > since)
        )
    ).one()
    wait = backoff_s(count, allowance, limits.max_backoff_s)
    if not wait or last is None:
        return 0.0
    if last.tzinfo is None:  # SQLite hands back naive UTC
        last = last.replace(tzinfo=UTC)
    return (last + timedelta(seconds=wait) - now).total_seconds()


async def is_known_client(session: AsyncSession, *, email: str, client_address: str, limits: LoginLimits) -> bool:
    since = utcnow() - timedelta(seconds=limits.known_client_s)
    found = await session.scalar(
        select(KnownLoginClient.email).where(
            KnownLoginClient.email == email,
            KnownLoginClient.client_address == client_address[:64],
            KnownLoginClient.last_login_at > since,
        )
    )
    return found is not None


async def check_login_allowed(
    session: AsyncSession, *, email: str, client_address: str, limits: LoginLimits
) -> Throttle | None:
    now = utcnow()
    address = client_address[:64]
    checks: list[tuple[str, ColumnElement[bool], int]] = [
        ("account", and_(LoginAttempt.email == email, LoginAttempt.client_address == address), limits.per_account),
        ("address", LoginAttempt.client_address == address, limits.per_address),
    ]
    if not await is_known_client(session, email=email, client_address=address, limits=limits):
        checks.insert(1, ("account", LoginAttempt.email == email, limits.per_account))
    for scope, condition, allowance in checks:
        wait = await _wait_s(session, condition, allowance, limits, now)
        if wait > 0:
            return Throttle(scope=scope, retry_after_s=max(1, math.ceil(wait)))
    return None


async def record_login_failure(session: AsyncSession, *, email: str, client_address: str, limits: LoginLimits) -> None:
    now = utcnow()
    session.add(LoginAttempt(email=email, client_address=client_address[:64], created_at=now))
    # Rows older than the window count for nothing: drop them here rather than in a job.
    await session.execute(
        delete(LoginAttempt).where(LoginAttempt.created_at <= now - timedelta(seconds=limits.window_s))
    )


async def record_login_success(session: AsyncSession, *, email: str, client_address: str) -> None:
    """Remember the address as one the account logs in from."""
    address = client_address[:64]
    known = await session.get(KnownLoginClient, (email, address))
    if known is None:
        session.add(KnownLoginClient(email=email, client_address=address, last_login_at=utcnow()))
    else:
        known.last_login_at = utcnow()
