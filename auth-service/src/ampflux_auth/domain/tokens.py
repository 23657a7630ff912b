"""Access tokens (signed JWTs) and refresh tokens (opaque, hashed, rotated, in families)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import RefreshToken, RefreshTokenFamily, User
from .signing_keys import LoadedKey


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int
    jti: str


def mint_access_token(
    key: LoadedKey,
    user: User,
    *,
    issuer: str,
    audience: str,
    ttl_s: int,
    session_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
    scopes: list[str] | None = None,
) -> AccessToken:
    now = datetime.now(UTC)
    jti = uuid.uuid4().hex
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user.id),
        "company_id": str(user.company_id),
        "roles": sorted(user.roles),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": jti,
    }
    if session_id is not None:
        # The refresh-token family this token came from: lets "change password" keep the
        # caller's own session while ending every other one.
        claims["sid"] = str(session_id)
    if api_key_id is not None:
        claims["api_key_id"] = str(api_key_id)
        claims["scope"] = " ".join(scopes or [])
    return AccessToken(token=key.sign(claims), expires_in=ttl_s, jti=jti)


def hash_token(token: str) -> str:
    # Refresh tokens are 256 random bits: a plain SHA-256 is enough to make a stolen table
    # useless, and lets the token be found by an indexed equality lookup.
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh_token(session: AsyncSession, family_id: uuid.UUID, ttl_s: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            family_id=family_id,
            token_hash=hash_token(token),
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
        )
    )
    return token


async def start_session(session: AsyncSession, user: User, *, ttl_s: int) -> tuple[RefreshTokenFamily, str]:
    """A new refresh-token family (one per login) and its first token."""
    family = RefreshTokenFamily(id=uuid.uuid4(), user_id=user.id, company_id=user.company_id)
    session.add(family)
    await session.flush()
    return family, _new_refresh_token(session, family.id, ttl_s)


class RefreshFailure(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REUSED = "reused"
    INACTIVE_USER = "inactive_user"


@dataclass(frozen=True)
class Rotation:
    user: User | None = None
    family: RefreshTokenFamily | None = None
    refresh_token: str | None = None
    failure: RefreshFailure | None = None


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(RefreshTokenFamily)
        .where(RefreshTokenFamily.id == family_id, RefreshTokenFamily.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC), revoked_reason=reason)
    )


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, reason: str, *, keep: uuid.UUID | None = None
) -> None:
    stmt = update(RefreshTokenFamily).where(
        RefreshTokenFamily.user_id == user_id, RefreshTokenFamily.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(RefreshTokenFamily.id != keep)
    await session.execute(stmt.values(revoked_at=datetime.now(UTC), revoked_reason=reason))


async def rotate_refresh_token(session: AsyncSession, token: str, *, ttl_s: int) -> Rotation:
    """Exchange a refresh token for a new one in the same family.

    A token presented a second time means two parties hold it (one of them a thief), and
    we cannot tell which: the whole family is revoked. The caller must commit even when a
    failure is returned, so that revocation sticks.
    """
    row = (await session.scalars(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))).first()
    if row is None:
        return Rotation(failure=RefreshFailure.UNKNOWN)
    family = await session.get(RefreshTokenFamily, row.family_id)
    if family is None or family.revoked_at is not None:
        return Rotation(failure=RefreshFailure.REVOKED)
    now = datetime.now(UTC)
    if row.expires_at <= now:
        return Rotation(failure=RefreshFailure.EXPIRED)
    # Claim the token with a conditional update, so two concurrent uses cannot both win.
    # An UPDATE gives a CursorResult (with rowcount); Session.execute is typed for any statement.
    claimed = cast(
        CursorResult[Any],
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        await revoke_family(session, family.id, "reuse")
        return Rotation(failure=RefreshFailure.REUSED)
    user = await session.get(User, family.user_id)
    if user is None or not user.is_active:
        await revoke_family(session, family.id, "deactivated")
        return Rotation(failure=RefreshFailure.INACTIVE_USER)
    return Rotation(user=user, family=family, refresh_token=_new_refresh_token(session, family.id, ttl_s))


async def end_session(session: AsyncSession, token: str) -> None:
    """Logout: revoke the family of `token`; an unknown token is silently accepted."""
    row = (await session.scalars(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))).first()
    if row is not None:
        await revoke_family(session, row.family_id, "logout")
