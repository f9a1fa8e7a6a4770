"""IMAP for background jobs, holding cap leases like any other connection and letting go of them.

Background work queues behind the watcher and page loads (``Priority.BACKGROUND``): it takes a
free slot or a hand-over only when no interactive request of the user is waiting.

``background_connection`` is one blocking connection (the POP3 jobs); ``background_store`` is a
MailStore of its own for async work outside a request (the outbox), so that work goes through
the same facade, error translation and retry-once as a request's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
from redis import Redis

from webmail.config import Settings
from webmail.imap.cap import ConnectionCap, Priority, SyncLease
from webmail.imap.client import close_client, open_client
from webmail.imap.errors import MailboxBusyError
from webmail.imap.pool import IMAPConnection, IMAPPool
from webmail.imap.store import MailStore
from webmail.imap.types import Credentials, SpecialChoices
from webmail.redis import create_redis

LEASE_WAIT_SECONDS = 30


@contextmanager
def background_connection(
    settings: Settings, redis: Redis, credentials: Credentials, *, cap_user: str | None = None
) -> Iterator[tuple[IMAPConnection, SyncLease]]:
    """Connect as ``credentials`` once the user's connection cap allows; the job renews the lease."""
    lease = SyncLease(
        redis,
        settings.redis_prefix,
        cap_user or credentials.username,
        settings.imap_max_connections_per_user,
        settings.imap_lease_seconds,
        priority=Priority.BACKGROUND,
    )
    if not lease.acquire(LEASE_WAIT_SECONDS):
        raise MailboxBusyError()
    try:
        client = open_client(settings, credentials)
        try:
            yield IMAPConnection(client), lease
        finally:
            close_client(client)
    finally:
        lease.release()


@asynccontextmanager
async def background_store(
    settings: Settings, credentials: Credentials, special_choices: SpecialChoices | None = None
) -> AsyncIterator[MailStore]:
    """A MailStore for ``credentials`` over a pool of its own (connections open when first
    used), every connection closed and its lease released at the end; ``special_choices`` are
    the special folders the user chose by hand."""
    redis = create_redis(settings)
    cap = ConnectionCap(
        redis, settings.redis_prefix, settings.imap_max_connections_per_user, settings.imap_lease_seconds
    )
    pool = IMAPPool(settings, cap, priority=Priority.BACKGROUND)
    try:
        yield MailStore(pool, credentials, special_choices=special_choices or {})
    finally:
        with anyio.CancelScope(shield=True):
            await pool.close_all()
            await redis.aclose()
