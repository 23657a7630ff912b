"""Ed25519 signing keys: created, rotated, published as JWKS, pruned.

Why the private keys may live in the database: only this service's database user can read
the table, the keys sign tokens that live minutes, rotation is one command, and with
AUTH_SIGNING_KEY_PASSPHRASE set the PEMs are encrypted so a dump or backup alone is useless.
Moving to a KMS (Vault transit, Cloud KMS: both sign Ed25519) means keeping only the public
JWK and the KMS key name in `signing_keys` and replacing `LoadedKey.sign` with a call to the
KMS sign API over the JWS signing input; nothing else here changes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cachetools import TTLCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import Database

from ..models import SigningKey

ALGORITHM = "EdDSA"
# Verifiers accept this much clock skew past `exp`; a key stays published that much longer.
VERIFIER_LEEWAY = timedelta(seconds=60)
# Any fixed number: serialises key creation across replicas starting together on PostgreSQL.
_CREATE_LOCK_ID = 0x61757468


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private_key: Ed25519PrivateKey

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


def _new_kid() -> str:
    # Sortable by creation time for people reading a JWKS, unique by the random tail.
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def _encryption(passphrase: str | None) -> serialization.KeySerializationEncryption:
    if passphrase:
        return serialization.BestAvailableEncryption(passphrase.encode())
    return serialization.NoEncryption()


def _load_private(pem: str, passphrase: str | None) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=passphrase.encode() if passphrase else None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("signing key is not Ed25519")
    return key


def _public_jwk(private_key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    jwk = OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def create_signing_key(session: AsyncSession, *, passphrase: str | None) -> SigningKey:
    private_key = Ed25519PrivateKey.generate()
    kid = _new_kid()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _encryption(passphrase)
    ).decode()
    row = SigningKey(kid=kid, algorithm=ALGORITHM, private_pem=pem, public_jwk=_public_jwk(private_key, kid))
    session.add(row)
    return row


async def current_signing_key(session: AsyncSession) -> SigningKey | None:
    """The newest key not rotated out; if two replicas raced on first start, both are valid."""
    stmt = (
        select(SigningKey)
        .where(SigningKey.rotated_out_at.is_(None), SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def ensure_signing_key(session: AsyncSession, *, passphrase: str | None) -> SigningKey:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CREATE_LOCK_ID})
    key = await current_signing_key(session)
    if key is None:
        key = create_signing_key(session, passphrase=passphrase)
        await session.flush()
    return key


async def rotate_signing_key(session: AsyncSession, *, passphrase: str | None) -> SigningKey:
    """Make a new key the signing key; the old ones stay published for verification."""
    now = datetime.now(UTC)
    stmt = select(SigningKey).where(SigningKey.rotated_out_at.is_(None), SigningKey.retired_at.is_(None))
    for old in (await session.scalars(stmt)).all():
        old.rotated_out_at = now
    key = create_signing_key(session, passphrase=passphrase)
    await session.flush()
    return key


async def prune_signing_keys(session: AsyncSession, *, max_token_ttl_s: int, now: datetime | None = None) -> list[str]:
    """Retire rotated-out keys whose every token has expired; erase their private halves."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=max_token_ttl_s) - VERIFIER_LEEWAY
    stmt = select(SigningKey).where(
        SigningKey.retired_at.is_(None), SigningKey.rotated_out_at.is_not(None), SigningKey.rotated_out_at <= cutoff
    )
    retired = []
    for key in (await session.scalars(stmt)).all():
        key.retired_at = now
        key.private_pem = None
        retired.append(key.kid)
    await session.flush()
    return retired


async def retire_signing_key(session: AsyncSession, kid: str) -> bool:
    """Retire one key now, whatever it signed (after a leak). The signing key itself must be
    rotated out first, so there is always a key to sign with. False if no such key."""
    key = await session.get(SigningKey, kid)
    if key is None:
        return False
    if key.rotated_out_at is None and key.retired_at is None:
        raise ValueError(f"{kid} is the signing key: rotate first")
    key.retired_at = key.retired_at or datetime.now(UTC)
    key.private_pem = None
    await session.flush()
    return True


async def list_signing_keys(session: AsyncSession) -> list[SigningKey]:
    return list((await session.scalars(select(SigningKey).order_by(SigningKey.created_at))).all())


async def published_jwks(session: AsyncSession) -> dict[str, Any]:
    stmt = select(SigningKey.public_jwk).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc())
    return {"keys": list((await session.scalars(stmt)).all())}


_SIGNING = "signing"


class KeyRing:
    """This process's view of the keys: the signing key (cached briefly) and the JWKS.

    Rotation happens in another process (`python -m ampflux_auth.keys rotate`), so the
    signing key is re-read after `cache_s`; until then the previous key, still published,
    keeps signing, which verifiers accept.
    """

    def __init__(self, db: Database, *, passphrase: str | None, cache_s: float) -> None:
        self._db = db
        self._passphrase = passphrase
        # One entry, the current signing key, re-read from the database after `cache_s`.
        self._cache: TTLCache[str, LoadedKey] = TTLCache(maxsize=1, ttl=cache_s, timer=time.monotonic)
        self._lock = asyncio.Lock()

    async def ensure(self) -> LoadedKey:
        """Create the first key if there is none (first start) and load the signing key."""
        async with self._db.session() as session:
            row = await ensure_signing_key(session, passphrase=self._passphrase)
            loaded = self._load(row)
        self._cache[_SIGNING] = loaded
        return loaded

    def _load(self, row: SigningKey) -> LoadedKey:
        if row.private_pem is None:
            raise RuntimeError(f"signing key {row.kid} has no private key")
        return LoadedKey(kid=row.kid, private_key=_load_private(row.private_pem, self._passphrase))

    async def signing_key(self) -> LoadedKey:
        if (cached := self._cache.get(_SIGNING)) is not None:
            return cached
        async with self._lock:  # one re-read for every request that found the entry expired
            if (cached := self._cache.get(_SIGNING)) is not None:
                return cached
            async with self._db.session() as session:
                row = await current_signing_key(session)
                loaded = self._load(row) if row is not None else None
            if loaded is None:  # every key pruned by hand: make a new one rather than fail
                return await self.ensure()
            self._cache[_SIGNING] = loaded
            return loaded

    async def jwks(self) -> dict[str, Any]:
        async with self._db.session() as session:
            return await published_jwks(session)
