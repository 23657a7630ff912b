"""Password hashing with argon2id through passlib, which can tell when a hash is outdated.

Hashing costs tens of milliseconds of CPU on purpose, so it runs in a worker thread to keep
the event loop answering other requests.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from passlib.context import CryptContext


@dataclass(frozen=True)
class PasswordCheck:
    ok: bool
    # A fresh hash to store when the stored one used older parameters.
    new_hash: str | None = None


class PasswordHasher:
    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            deprecated="auto",
            argon2__type="ID",
            argon2__memory_cost=memory_kib,
            argon2__rounds=time_cost,
            argon2__parallelism=parallelism,
        )
        # Verified against when the account does not exist, so an unknown email costs the
        # same time as a wrong password and response timing does not reveal accounts.
        self._dummy_hash = self._context.hash(secrets.token_urlsafe(24))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._context.hash, password)

    async def verify(self, password: str, stored_hash: str | None) -> PasswordCheck:
        if stored_hash is None:
            await asyncio.to_thread(self._context.verify, password, self._dummy_hash)
            return PasswordCheck(ok=False)
        ok, new_hash = await asyncio.to_thread(self._context.verify_and_update, password, stored_hash)
        return PasswordCheck(ok=bool(ok), new_hash=new_hash if ok else None)
