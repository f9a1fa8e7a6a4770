"""The cluster-wide cap on one user's IMAP connections: a Redis semaphore with leases.

Each open connection holds a lease: a member of the sorted set ``wm:cap:<user>`` whose score is
its expiry time (Redis server clock, so hosts need not agree). Holders renew their leases well
before they expire; a crashed worker stops renewing, and its leases lapse by themselves.
"""

from __future__ import annotations

import secrets
import time

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from webmail.redis import Keys

# KEYS[1] the set; ARGV: ttl_ms, limit, lease. Returns 1 if the lease was granted.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[1]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
  return 1
end
return 0
"""

# KEYS[1] the set; ARGV: ttl_ms, leases... Returns how many leases were still held.
_RENEW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local held = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now_ms + tonumber(ARGV[1]), ARGV[i])
    held = held + 1
  end
end
if held > 0 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2) end
return held
"""

# KEYS[1] the set. Returns the number of live leases.
_COUNT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
return redis.call('ZCARD', KEYS[1])
"""


class ConnectionCap:
    def __init__(self, redis: Redis, prefix: str, limit: int, lease_seconds: float = 30.0) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.limit = limit
        self.ttl_ms = int(lease_seconds * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._count = redis.register_script(_COUNT)

    def key(self, user: str) -> str:
        return self.keys.connection_cap(user)

    async def try_acquire(self, user: str) -> str | None:
        """A new lease for one connection of ``user``, or None if the cap is reached."""
        lease = secrets.token_hex(8)
        granted = await self._acquire(keys=[self.key(user)], args=[self.ttl_ms, self.limit, lease])
        return lease if granted == 1 else None

    async def release(self, user: str, lease: str) -> None:
        await self.redis.zrem(self.key(user), lease)

    async def renew(self, user: str, leases: list[str]) -> int:
        if not leases:
            return 0
        return int(await self._renew(keys=[self.key(user)], args=[self.ttl_ms, *leases]))

    async def count(self, user: str) -> int:
        return int(await self._count(keys=[self.key(user)]))


class SyncLease:
    """One lease for a connection held by a thread or background job (blocking Redis; the holder renews it)."""

    def __init__(self, redis: SyncRedis, prefix: str, user: str, limit: int, lease_seconds: float) -> None:
        self.redis = redis
        self.key = Keys(prefix).connection_cap(user)
        self.limit = limit
        self.ttl_ms = int(lease_seconds * 1000)
        self.lease = secrets.token_hex(8)

    def acquire(self, wait_seconds: float) -> bool:
        """Take the lease once the cap allows, trying for up to ``wait_seconds`` (0: try once)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            if self.redis.eval(_ACQUIRE, 1, self.key, self.ttl_ms, self.limit, self.lease) == 1:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)

    def renew(self) -> None:
        self.redis.eval(_RENEW, 1, self.key, self.ttl_ms, self.lease)

    def release(self) -> None:
        self.redis.zrem(self.key, self.lease)
