"""The response cache of the one-shot assistant: Redis when configured, else in-process.

The key is a hash of everything that decides the answer (model, system prompt, messages,
tools), so a hit is an answer the provider would have been asked for again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cachetools import TTLCache

KEY_PREFIX = "ampflux:ai:cache:"


def cache_key(*, model: str, base_url: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
    # The provider URL is part of it: two companies with different providers never share answers.
    material = json.dumps(
        {"model": model, "base_url": base_url, "messages": messages, "tools": tools}, sort_keys=True, default=str
    )
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()


class ResponseCache:
    def __init__(self, *, ttl_s: int, max_entries: int, redis_url: str = "") -> None:
        self.ttl_s = ttl_s
        self._local: TTLCache[str, str] = TTLCache(maxsize=max_entries, ttl=ttl_s)
        self._redis: Any = None
        if redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(redis_url)

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self._redis.get(key) if self._redis is not None else self._local.get(key)
        return json.loads(raw) if raw else None

    async def put(self, key: str, value: dict[str, Any]) -> None:
        raw = json.dumps(value)
        if self._redis is not None:
            await self._redis.set(key, raw, ex=self.ttl_s)
        else:
            self._local[key] = raw

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
