"""Token buckets in this process: exact for one replica, per-replica when there are several."""

from __future__ import annotations

import time


class MemoryBuckets:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated_at)
        self._max_keys = max_keys

    async def take(self, key: str, capacity: int, refill_per_s: float, ttl_s: float) -> tuple[bool, float]:
        """Take one token if there is one; returns (allowed, tokens left)."""
        now = time.monotonic()
        tokens, updated = self._buckets.get(key, (float(capacity), now))
        tokens = min(float(capacity), tokens + (now - updated) * refill_per_s)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._evict(now, ttl_s)
        self._buckets[key] = (tokens, now)
        return allowed, tokens

    def _evict(self, now: float, ttl_s: float) -> None:
        # A bucket untouched for a whole window is full again: forgetting it changes nothing.
        stale = [k for k, (_, at) in self._buckets.items() if now - at > ttl_s]
        for k in stale:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:  # still full: drop the oldest half
            for k in sorted(self._buckets, key=lambda k: self._buckets[k][1])[: self._max_keys // 2]:
                del self._buckets[k]
