"""API keys for scripts and integrations: `afx_<key id>_<secret>`, shown once.

The secret is 256 random bits, so a plain SHA-256 of it is as good as a slow password hash
(there is nothing to guess) and costs microseconds per exchange. The key id in the clear
part makes the look-up an indexed primary-key read, and the hash comparison is constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import not_found
from ampflux_shared.pagination import PageParams, Rows, paginate

from ..models import ApiKey, User

PREFIX = "afx"


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_key(key_id: uuid.UUID, secret: str) -> str:
    return f"{PREFIX}_{key_id.hex}_{secret}"


def parse_key(raw: str) -> tuple[uuid.UUID, str] | None:
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[2]:
        return None
    try:
        return uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        return None


async def create_api_key(
    session: AsyncSession, user: User, *, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """The new key row and the full key, which is never seen again."""
    # token_hex: no "_" in the secret, so the key splits unambiguously.
    secret = secrets.token_hex(32)
    key = ApiKey(
        id=uuid.uuid4(),
        company_id=user.company_id,
        user_id=user.id,
        name=name.strip(),
        secret_hash=_hash_secret(secret),
        hint=secret[-4:],
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return key, format_key(key.id, secret)


async def list_api_keys(session: AsyncSession, user: User, paging: PageParams) -> Rows[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at.desc(), ApiKey.id)
    return await paginate(session, stmt, paging)


async def revoke_api_key(
    session: AsyncSession, key_id: uuid.UUID, *, user_id: uuid.UUID, company_id: uuid.UUID, is_admin: bool
) -> ApiKey:
    """Owners revoke their keys; a company admin may revoke any key of the company."""
    stmt = select(ApiKey).where(ApiKey.id == key_id, ApiKey.company_id == company_id)
    if not is_admin:
        stmt = stmt.where(ApiKey.user_id == user_id)
    key = await session.scalar(stmt)
    if key is None:
        raise not_found("API key")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
    return key


async def key_is_live(session: AsyncSession, key_id: str) -> bool:
    """Whether the key exists, is not revoked and has not expired."""
    try:
        key = await session.get(ApiKey, uuid.UUID(str(key_id)))
    except ValueError:
        return False
    if key is None or key.revoked_at is not None:
        return False
    return key.expires_at is None or key.expires_at > datetime.now(UTC)


class ExchangeFailure(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    INACTIVE_USER = "inactive_user"


@dataclass(frozen=True)
class KeyCheck:
    key: ApiKey | None = None
    user: User | None = None
    failure: ExchangeFailure | None = None


async def check_api_key(session: AsyncSession, raw: str) -> KeyCheck:
    parsed = parse_key(raw)
    if parsed is None:
        return KeyCheck(failure=ExchangeFailure.MALFORMED)
    key_id, secret = parsed
    key = await session.get(ApiKey, key_id)
    if key is None or not hmac.compare_digest(key.secret_hash, _hash_secret(secret)):
        return KeyCheck(failure=ExchangeFailure.UNKNOWN)
    now = datetime.now(UTC)
    if key.revoked_at is not None:
        return KeyCheck(failure=ExchangeFailure.REVOKED)
    if key.expires_at is not None and key.expires_at <= now:
        return KeyCheck(failure=ExchangeFailure.EXPIRED)
    user = await session.get(User, key.user_id)
    if user is None or not user.is_active:
        return KeyCheck(failure=ExchangeFailure.INACTIVE_USER)
    key.last_used_at = now
    return KeyCheck(key=key, user=user)
