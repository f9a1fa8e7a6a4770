"""The Redis client factory and the only place Redis key strings are built."""

from __future__ import annotations

import re

from redis.asyncio import Redis

from webmail.config import Settings


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


class Keys:
    """``wm:<kind>:...`` key names under the configured prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def session(self, sid: str) -> str:
        return f"{self.prefix}:sess:{sid}"

    def user_sessions(self, user: str) -> str:
        return f"{self.prefix}:usess:{user.lower()}"

    def login_failures_user(self, user: str) -> str:
        return f"{self.prefix}:rl:u:{user.lower()}"

    def close_connections_channel(self) -> str:
        """Pub/sub: a user name published here makes every worker close that user's connections."""
        return f"{self.prefix}:pool:close"

    def login_failures_ip(self, ip: str) -> str:
        return f"{self.prefix}:rl:ip:{ip}"

    def jobs_queue(self) -> str:
        """The rq queue name of ``webmail worker``."""
        return f"{self.prefix}:jobs"

    def pop3_job_id(self, account_id: int) -> str:
        """rq job ids are global in Redis (``rq:job:<id>``), not per queue: the prefix keeps
        installations (and test runs) sharing one Redis apart."""
        return re.sub(r"[^\w-]", "_", self.prefix) + f"-pop3-{account_id}"

    def pop3_lock(self, account_id: int) -> str:
        """Held while an account is being fetched, so no two workers fetch it at once."""
        return f"{self.prefix}:pop3:lock:{account_id}"

    def pop3_progress(self, account_id: int) -> str:
        return f"{self.prefix}:pop3:progress:{account_id}"

    def pop3_metrics(self) -> str:
        return f"{self.prefix}:metrics:pop3"
