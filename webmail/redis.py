"""The Redis client factories and the only place Redis key strings are built.

``WEBMAIL_REDIS_URL`` names one Redis (``redis://``, ``rediss://``, ``unix://``) or, as
``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]``, the Sentinels that know which
server is the master of ``service``. Those clients ask them again whenever the master goes away, and
retry a failed command for a few seconds, longer than a failover takes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from redis.backoff import ExponentialBackoff

from webmail.config import Settings

SENTINEL_SCHEME = "redis+sentinel"
# Up to about 8 s of retries (0.2, 0.4, 0.8, 1.6, 2, 2, 2 s): longer than a Sentinel failover.
RETRIES = 7
RETRY_ON = [redis.ConnectionError, redis.TimeoutError]


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    password: str | None


def sentinel_target(url: str) -> SentinelTarget | None:
    """What a ``redis+sentinel://`` URL names; None for a plain Redis URL. Raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    hosts = parts.netloc.rpartition("@")[2]
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"{host!r} is not host:port")
        sentinels.append((name.strip("[]"), int(port)))
    service, _, db = parts.path.strip("/").partition("/")
    if not service or (db and not db.isdigit()):
        raise ValueError("name the service after the hosts: redis+sentinel://host:26379,host:26379/service/0")
    password = unquote(parts.password) if parts.password else None
    return SentinelTarget(sentinels, service, int(db or 0), password)


class _AsyncSentinelRedis(redis.asyncio.Redis):
    """Closing it also closes its connections to the Sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        await self.connection_pool.sentinel_manager.aclose()  # type: ignore[attr-defined]


class _SentinelRedis(redis.Redis):
    """Closing it also closes its connections to the Sentinels."""

    def close(self) -> None:
        super().close()
        for sentinel in self.connection_pool.sentinel_manager.sentinels:  # type: ignore[attr-defined]
            sentinel.close()


OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30}
# A plain Redis: after it restarted, every pooled connection is dead, and redis-py (8.x) would not
# retry a command on a fresh one, so each stale connection failed one request. A few quick retries
# on a fresh connection; a Redis that is really gone is still reported within a second.
PLAIN_RETRIES = 3
PLAIN_BACKOFF = {"cap": 0.5, "base": 0.05}
SENTINEL_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 2}


def create_redis(settings: Settings) -> redis.asyncio.Redis:
    """The asyncio client of the web workers."""
    target = sentinel_target(settings.redis_url)
    if target is None:
        plain = redis.asyncio.retry.Retry(ExponentialBackoff(**PLAIN_BACKOFF), PLAIN_RETRIES)
        return redis.asyncio.Redis.from_url(
            settings.redis_url, retry=plain, retry_on_error=RETRY_ON, **OPTIONS
        )
    retry = redis.asyncio.retry.Retry(ExponentialBackoff(cap=2, base=0.2), RETRIES)
    sentinel = redis.asyncio.sentinel.Sentinel(target.sentinels, sentinel_kwargs=SENTINEL_OPTIONS)  # type: ignore[no-untyped-call]
    client: redis.asyncio.Redis = sentinel.master_for(
        target.service,
        redis_class=_AsyncSentinelRedis,
        db=target.db,
        password=target.password,
        retry=retry,
        retry_on_error=RETRY_ON,
        **OPTIONS,
    )
    return client


def create_sync_redis(settings: Settings, **options: Any) -> redis.Redis:
    """The blocking client of threads and of ``webmail worker`` (rq); ``options`` as redis-py's."""
    target = sentinel_target(settings.redis_url)
    if target is None:
        plain = redis.retry.Retry(ExponentialBackoff(**PLAIN_BACKOFF), PLAIN_RETRIES)
        return redis.Redis.from_url(settings.redis_url, retry=plain, retry_on_error=RETRY_ON, **options)
    retry = redis.retry.Retry(ExponentialBackoff(cap=2, base=0.2), RETRIES)
    sentinel = redis.sentinel.Sentinel(target.sentinels, sentinel_kwargs=SENTINEL_OPTIONS)  # type: ignore[no-untyped-call]
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.service,
        redis_class=_SentinelRedis,
        db=target.db,
        password=target.password,
        retry=retry,
        retry_on_error=RETRY_ON,
        **options,
    )
    return client


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

    def refused_senders(self, user: str) -> str:
        """Hash: From address (lower case) -> the submission server's words when it refused it."""
        return f"{self.prefix}:nosend:{user}"

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

    def archive_job_id(self, rule_id: int) -> str:
        """The rq job id of one auto-archive rule's run (global in Redis, so prefixed)."""
        return re.sub(r"[^\w-]", "_", self.prefix) + f"-archive-{rule_id}"

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

    def idle_connections(self, user: str) -> str:
        """Sorted set of the leases whose connections sit idle in a pool, scored by since when:
        the least recently used is asked to go first when another worker waits (``imap/cap.py``)."""
        return f"{self.prefix}:idle:{user}"

    def connection_queue(self, user: str) -> str:
        """Sorted set of the requests waiting for one of the user's connections, best first."""
        return f"{self.prefix}:capq:{user}"

    def cap_settling(self) -> str:
        """Set for a few seconds after Redis lost its data: no connection slot is granted meanwhile
        (``imap/cap.py``)."""
        return f"{self.prefix}:capsettle"

    def lease_holder(self, holder: str) -> str:
        """Kept alive by a worker while it runs; leases of a holder whose key lapsed are void."""
        return self.lease_holder_prefix() + holder

    def lease_holder_prefix(self) -> str:
        return f"{self.prefix}:holder:"

    def handover_channel(self) -> str:
        """Pub/sub: "let go of this idle connection", to the worker that holds it."""
        return f"{self.prefix}:pool:handover"

    def grant_channel(self) -> str:
        """Pub/sub: the lease of a waiting request that was just given a slot of the cap."""
        return f"{self.prefix}:pool:grant"

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

    def page(self, user: str, folder: str, uidvalidity: int, modseq: int | str, variant: str) -> str:
        """A cached message-list page; ``folder`` and ``variant`` (any text) are hashed; ``modseq``
        is the folder's HIGHESTMODSEQ, or UIDNEXT and count as ``"<uidnext>+<count>"``."""
        folder_id = hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()[:16]
        variant_id = hashlib.sha1(variant.encode(), usedforsecurity=False).hexdigest()[:20]
        return f"{self.prefix}:page:{user}:{folder_id}:{uidvalidity}:{modseq}:{variant_id}"

    def view_index(self, user: str) -> str:
        """Set of the user's cached rendered messages, so sign-out can forget them all."""
        return f"{self.prefix}:views:{user}"

    def message_view(self, user: str, folder: str, uidvalidity: int, uid: int, variant: str) -> str:
        """A rendered message (``imap/cache.py``); ``folder`` and ``variant`` (any text) are hashed."""
        folder_id = hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()[:16]
        variant_id = hashlib.sha1(variant.encode(), usedforsecurity=False).hexdigest()[:20]
        return f"{self.message_views(user)}{folder_id}:{uidvalidity}:{uid}:{variant_id}"

    def message_views(self, user: str) -> str:
        """What every key of the user's rendered messages starts with."""
        return f"{self.prefix}:view:{user}:"

    def rendered_list(self, user: str, variant: str) -> str:
        """A rendered message-list partial (``imap/cache.py``); ``variant`` (any text) is hashed."""
        variant_id = hashlib.sha1(variant.encode(), usedforsecurity=False).hexdigest()[:24]
        return f"{self.prefix}:listhtml:{user}:{variant_id}"

    def folder_size(self, user: str, folder: str) -> str:
        """A folder's counted size (``imap/storage.py``: no STATUS=SIZE); ``folder`` is hashed."""
        folder_id = hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()[:16]
        return f"{self.prefix}:fsize:{user}:{folder_id}"

    def size_count_lock(self, user: str) -> str:
        """Held while one worker counts the user's folder sizes."""
        return f"{self.prefix}:fsize:lock:{user}"

    def export_lock(self, export_id: str) -> str:
        """Held (and renewed) by the worker writing a background export."""
        return f"{self.prefix}:export:lock:{export_id}"

    def export_queued(self, export_id: str) -> str:
        """Set while a run of a background export waits in the queue (no second one is queued)."""
        return f"{self.prefix}:export:queued:{export_id}"
