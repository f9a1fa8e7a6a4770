"""An IMAP connection for background jobs: holds a cap lease like any other, and lets go of both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis

from webmail.config import Settings
from webmail.imap.cap import SyncLease
from webmail.imap.client import close_client, open_client
from webmail.imap.errors import MailboxBusyError
from webmail.imap.pool import IMAPConnection
from webmail.imap.types import Credentials

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
