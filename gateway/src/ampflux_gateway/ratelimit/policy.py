"""Rate-limit decisions for a route's policy, and the headers that describe them.

Headers follow STYLE.md (IETF RateLimit fields): `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` (seconds until the bucket is full again), `RateLimit-Policy`; a refusal
adds `Retry-After` (seconds until one request fits, rounded up, at least 1).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from ..metrics import GatewayMetrics
from ..routes import RateLimitSpec
from .memory import MemoryBuckets

log = logging.getLogger("ampflux.gateway.ratelimit")


class Buckets(Protocol):
    async def take(self, key: str, capacity: int, refill_per_s: float, ttl_s: float) -> tuple[bool, float]: ...


@dataclass(frozen=True, slots=True)
class Decision:
    spec: RateLimitSpec
    allowed: bool
    tokens_left: float

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.tokens_left))

    @property
    def reset_s(self) -> int:
        return max(0, math.ceil((self.spec.quota - self.tokens_left) / self.spec.refill_per_s))

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil((1.0 - self.tokens_left) / self.spec.refill_per_s))

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"ratelimit-limit", str(self.spec.quota).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_s).encode()),
            (b"ratelimit-policy", self.spec.header_value.encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after_s).encode()))
        return out


class RateLimiter:
    """Decides with the shared (Redis) buckets when configured, else in-process ones.

    If Redis fails, the decision falls back to this replica's own buckets: a Redis outage
    loosens limits to per-replica ones instead of refusing or waving through everything.
    """

    def __init__(self, metrics: GatewayMetrics, shared: Buckets | None = None) -> None:
        self._metrics = metrics
        self._shared = shared
        self._local = MemoryBuckets()
        self._last_warning = 0.0

    async def check(self, spec: RateLimitSpec, identity_key: str) -> Decision:
        key = f"{spec.policy}:{identity_key}"
        buckets: Buckets = self._shared or self._local
        try:
            allowed, tokens = await buckets.take(key, spec.quota, spec.refill_per_s, spec.window_s)
        except Exception as exc:  # Redis down or slow: degrade, don't fail the request
            self._warn(exc)
            allowed, tokens = await self._local.take(key, spec.quota, spec.refill_per_s, spec.window_s)
        self._metrics.ratelimit_decisions.labels(spec.policy, "allowed" if allowed else "limited").inc()
        return Decision(spec, allowed, tokens)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning("shared rate-limit store failed, using per-replica buckets: %s", exc)
