"""Secrets at rest (company provider keys, the caller's token of a pipeline execution):
AES-GCM under a key from settings, rotatable.

`AI_KEY_ENCRYPTION_KEYS` is "id:base64,id:base64": the first key seals, every listed key
opens. Each ciphertext is stored with the id of its key, so adding a new key in front rotates
without re-encrypting, and old rows keep opening until the old key is removed.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class SealingError(Exception):
    pass


class KeyRing:
    def __init__(self, spec: str) -> None:
        self.keys: dict[str, AESGCM] = {}
        self.current: str | None = None
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key_id, _, encoded = part.partition(":")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise SealingError(f"key {key_id!r} of AI_KEY_ENCRYPTION_KEYS is not base64") from None
            if not key_id or len(raw) != 32:
                raise SealingError("AI_KEY_ENCRYPTION_KEYS entries are id:base64 of 32 bytes")
            self.keys[key_id] = AESGCM(raw)
            self.current = self.current or key_id

    @property
    def usable(self) -> bool:
        return self.current is not None

    def seal(self, plaintext: str, *, company_id: uuid.UUID) -> tuple[str, bytes]:
        return self.seal_bound(plaintext, bound_to=company_id)

    def open(self, key_id: str, blob: bytes, *, company_id: uuid.UUID) -> str:
        return self.open_bound(key_id, blob, bound_to=company_id)

    def seal_bound(self, plaintext: str, *, bound_to: uuid.UUID) -> tuple[str, bytes]:
        """Seal under the current key; only `open_bound` with the same `bound_to` opens it."""
        if self.current is None:
            raise SealingError("no AI_KEY_ENCRYPTION_KEYS configured")
        nonce = os.urandom(NONCE_BYTES)
        # The owner's id (a company, an execution) is associated data: a ciphertext copied to
        # another row does not open.
        sealed = self.keys[self.current].encrypt(nonce, plaintext.encode(), bound_to.bytes)
        return self.current, nonce + sealed

    def open_bound(self, key_id: str, blob: bytes, *, bound_to: uuid.UUID) -> str:
        aead = self.keys.get(key_id)
        if aead is None:
            raise SealingError(f"the key {key_id!r} that sealed this secret is no longer configured")
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], bound_to.bytes).decode()
        except InvalidTag:
            raise SealingError("the stored secret does not open (tampered or wrong key)") from None
