"""The Redis client factory and the only place Redis key strings are built."""

from __future__ import annotations

import hashlib
import re

from redis.asyncio import Redis

from webmail.config import Settings


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


class Keys:
    """``wm:<kind>:...`` key names under the configured prefix.

    ``user`` is always an account's canonical name (``auth.usernames``), used as it is: folding it
    here would merge accounts that a case-sensitive server keeps apart.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def session(self, sid: str) -> str:
        return f"{self.prefix}:sess:{sid}"

    def user_sessions(self, user: str) -> str:
        return f"{self.prefix}:usess:{user}"

    def login_failures_user(self, identity: str) -> str:
        """Failed sign-ins of one account, by its canonical name (``auth.usernames``)."""
        return f"{self.prefix}:rl:u:{identity}"

    def close_connections_channel(self) -> str:
        """Pub/sub: a user name published here makes every worker close that user's connections."""
        return f"{self.prefix}:pool:close"

    def sessions_revoked_channel(self) -> str:
        """Pub/sub: a user name published here was signed out everywhere; every worker closes that
        user's connections and stops watching their mailbox."""
        return f"{self.prefix}:sessions:revoked"

    def vacation_state(self, user: str) -> str:
        """A short-lived copy of whether the user's vacation reply is on (for the mail screens' banner)."""
        return f"{self.prefix}:sieve:vacation:{user}"

    def login_failures_ip(self, network: str) -> str:
        """Failed sign-ins from one client address (an IPv6 client's /64)."""
        return f"{self.prefix}:rl:ip:{network}"

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

    def connection_cap(self, user: str) -> str:
        """Sorted set of the leases on the user's IMAP connections, cluster-wide (``imap/cap.py``)."""
        return f"{self.prefix}:cap:{user}"

    def events_channel(self, user: str) -> str:
        """Pub/sub: the user's live events (``webmail/events.py``)."""
        return f"{self.prefix}:events:{user}"

    def event_streams(self, user: str) -> str:
        """Sorted set of the user's open ``/events`` streams, scored by when each lapses."""
        return f"{self.prefix}:streams:{user}"

    def mailbox_state(self, user: str) -> str:
        """The watcher's fingerprint of all the user's folders, compared with a page's."""
        return f"{self.prefix}:state:{user}"

    def watcher_lock(self, user: str) -> str:
        """Held by the one worker in the cluster that watches the user's mailbox."""
        return f"{self.prefix}:watch:{user}"

    def page_index(self, user: str) -> str:
        """Set of the user's cached message-list pages, so sign-out can forget them all."""
        return f"{self.prefix}:pages:{user}"

    def page(self, user: str, folder: str, uidvalidity: int, modseq: int, variant: str) -> str:
        """A cached message-list page; ``folder`` and ``variant`` (any text) are hashed."""
        folder_id = hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()[:16]
        variant_id = hashlib.sha1(variant.encode(), usedforsecurity=False).hexdigest()[:20]
        return f"{self.prefix}:page:{user}:{folder_id}:{uidvalidity}:{modseq}:{variant_id}"
