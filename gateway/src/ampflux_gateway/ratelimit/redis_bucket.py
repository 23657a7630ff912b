"""Token buckets in Redis, so every gateway replica draws from the same budget.

Each decision is one Lua script run atomically on the server with the server's clock
(`TIME`): replicas with skewed clocks still agree, and no read-modify-write race exists.
"""

from __future__ import annotations

from redis.asyncio import Redis

# KEYS[1] bucket; ARGV: capacity, refill per second, expiry in ms.
# Returns {allowed (0/1), tokens left as a string (Lua would truncate a number to an int)}.
TAKE_TOKEN = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {allowed, string.format('%.6f', tokens)}
"""


class RedisBuckets:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = prefix
        # register_script runs EVALSHA and falls back to EVAL after a Redis restart.
        self._script = self._redis.register_script(TAKE_TOKEN)

    async def take(self, key: str, capacity: int, refill_per_s: float, ttl_s: float) -> tuple[bool, float]:
        allowed, tokens = await self._script(
            keys=[self._prefix + key], args=[capacity, repr(refill_per_s), int(ttl_s * 1000) + 1000]
        )
        return bool(int(allowed)), float(tokens)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
