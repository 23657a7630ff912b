"""How a pipeline worker acts for the user: the caller's own bearer token, sealed with the
execution.

Tool and study steps call the project and simulation services exactly as the assistant's
tools do, with the caller's token, so a pipeline sees and changes only what its author may.
The token is sealed (AES-GCM under `AI_KEY_ENCRYPTION_KEYS`, bound to the execution's id, so
it opens for no other row), only for pipelines that have such steps, and deleted when the
execution ends. A token that has expired by the time a step needs it fails that step with a
clear message; nothing is refreshed behind the user's back.

Without `AI_KEY_ENCRYPTION_KEYS` the embedded mode (no broker: the API process is its own
worker) seals under a key that lives only in this process: a restart leaves the token
unopenable and the step says so. With a broker, separate workers must open it, so such
pipelines are refused (503) until the keys are configured.
"""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import Settings
from .sealing import KeyRing, SealingError

# A step that would start with less than this left on the token fails at once rather than
# midway through its calls.
EXPIRY_MARGIN = timedelta(seconds=5)


class CredentialsError(Exception):
    """The caller's token cannot be used for a step (missing, unopenable, expired)."""


def credential_keyring(settings: Settings) -> KeyRing | None:
    ring = KeyRing(settings.key_encryption_keys)
    if ring.usable:
        return ring
    if not settings.amqp_url:
        return KeyRing("process:" + base64.b64encode(os.urandom(32)).decode())
    return None


@dataclass(frozen=True)
class SealedToken:
    key_id: str
    ciphertext: bytes
    expires_at: datetime | None


def seal_token(ring: KeyRing, bearer: str, *, execution_id: uuid.UUID, exp: object) -> SealedToken:
    key_id, blob = ring.seal_bound(bearer, bound_to=execution_id)
    expires_at = datetime.fromtimestamp(float(exp), UTC) if isinstance(exp, int | float) else None
    return SealedToken(key_id, blob, expires_at)


def open_token(
    ring: KeyRing | None,
    sealed: SealedToken | None,
    *,
    execution_id: uuid.UUID,
    now: datetime | None = None,
) -> str:
    if sealed is None:
        raise CredentialsError("this execution keeps no token of its caller (its pipeline had no tool or study step)")
    now = now or datetime.now(UTC)
    if sealed.expires_at is not None and sealed.expires_at - EXPIRY_MARGIN <= now:
        raise CredentialsError(
            f"the caller's token expired at {sealed.expires_at.isoformat()}; tool and study steps act with the "
            "caller's own rights, so execute the pipeline again with a fresh token (an API key's token lives "
            "only a minute: use a sign-in token for long pipelines)"
        )
    if ring is None:
        raise CredentialsError("AI_KEY_ENCRYPTION_KEYS is not configured, so the caller's token cannot be opened")
    try:
        return ring.open_bound(sealed.key_id, sealed.ciphertext, bound_to=execution_id)
    except SealingError as exc:
        raise CredentialsError(
            f"the caller's token cannot be opened ({exc}); execute the pipeline again"
            + (" (the embedded mode keeps its key only until a restart)" if sealed.key_id == "process" else "")
        ) from None
