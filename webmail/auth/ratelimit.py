"""Counting failed sign-ins per user name and per client address in Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from webmail.auth.errors import RateLimitedError
from webmail.config import Settings
from webmail.redis import Keys


class LoginRateLimiter:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.keys = Keys(settings.redis_prefix)
        self.window = settings.login_failure_window_minutes * 60
        self.max_user = settings.login_max_failures_per_user
        self.max_ip = settings.login_max_failures_per_ip

    async def check(self, user: str, ip: str) -> None:
        """Raise RateLimitedError if this user or address failed too often lately."""
        user_key, ip_key = self.keys.login_failures_user(user), self.keys.login_failures_ip(ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(user_key)
            pipe.ttl(user_key)
            pipe.get(ip_key)
            pipe.ttl(ip_key)
            user_count, user_ttl, ip_count, ip_ttl = await pipe.execute()
        waits = []
        if user_count is not None and int(user_count) >= self.max_user:
            waits.append(int(user_ttl))
        if ip_count is not None and int(ip_count) >= self.max_ip:
            waits.append(int(ip_ttl))
        if waits:
            raise RateLimitedError(max(waits))

    async def record_failure(self, user: str, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self.keys.login_failures_user(user), self.keys.login_failures_ip(ip)):
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
            await pipe.execute()

    async def clear_user(self, user: str) -> None:
        await self.redis.delete(self.keys.login_failures_user(user))
