"""Watching a user's mailbox for changes made anywhere, and publishing them on Redis pub/sub.

One watcher per user in the whole cluster: the worker that wins the Redis lock ``wm:watch:<user>``
runs it, as a thread with its own IMAP connection (holding a cap lease like any other, and first
in the queue for one: a full cap hands it an idle connection rather than making it wait). It IDLEs
on INBOX (RFC 2177), so new mail there is seen at once, and every few seconds leaves IDLE to ask
LIST-STATUS for all folders' counts and HIGHESTMODSEQ; what changed is published as
``MailboxChanged`` and ``NewMail`` events (``webmail/events.py``), which every worker forwards
to its browsers (``/events``).

The watcher runs in a web worker, not ``webmail worker``: it needs the session's IMAP password,
which only a request carrying the cookie's key half can decrypt. It stops when the user has had
no open event stream for a while; the lock's lease lets another worker take over if this one dies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from imapclient import IMAPClient

from webmail.config import Settings
from webmail.events import MailboxChanged, NewMail, NewMessage, publish
from webmail.imap.cap import Priority, SyncLease
from webmail.imap.client import close_client, open_client
from webmail.imap.errors import IMAPError, map_imap_errors
from webmail.imap.folders import list_folders
from webmail.imap.messages import fetch_range
from webmail.imap.types import Credentials, Folder
from webmail.mail.headers import decode_words
from webmail.redis import Keys, create_sync_redis

logger = logging.getLogger(__name__)

LOCK_SECONDS = 15
STREAM_GRACE_SECONDS = 30
# The watcher queues first for a connection (before page loads), and a full cap of busy
# connections makes it ask again after this long, not after a backoff.
CONNECT_WAIT_SECONDS = 1.0


@dataclass
class Snapshot:
    folders: dict[str, tuple[int | None, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, folders: list[Folder]) -> Snapshot:
        # UIDNEXT catches an arrival and an expunge in one interval where there is no HIGHESTMODSEQ.
        return cls(
            {f.name: (f.messages, f.unseen, f.highestmodseq, f.uidnext) for f in folders if f.selectable}
        )

    def digest(self) -> str:
        """A short fingerprint of all folders' state, comparable between a page and the watcher."""
        text = json.dumps(sorted(self.folders.items()), separators=(",", ":"))
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]

    def changed(self, newer: Snapshot) -> list[str]:
        return sorted(
            name for name, state in newer.folders.items() if self.folders.get(name) != state
        ) + sorted(name for name in self.folders if name not in newer.folders)


class MailboxWatcher(threading.Thread):
    """The watching thread for one user; ``stop()`` ends it within a poll interval."""

    def __init__(
        self,
        settings: Settings,
        credentials: Credentials,
        lock_token: str,
        poll_seconds: float,
        holder: str | None = None,
    ) -> None:
        super().__init__(name=f"watch-{credentials.username}", daemon=True)
        self.settings = settings
        self.credentials = credentials
        self.user = credentials.username
        self.keys = Keys(settings.redis_prefix)
        self.lock_token = lock_token
        self.poll_seconds = poll_seconds
        self.holder = holder
        self.redis = create_sync_redis(settings, socket_timeout=5)
        self._stopping = threading.Event()
        self._lease: SyncLease | None = None
        self._no_streams_since: float | None = None

    def stop(self) -> None:
        self._stopping.set()

    # ------------------------------------------------------------------ thread body

    def run(self) -> None:
        client: IMAPClient | None = None
        snapshot: Snapshot | None = None
        backoff = 1.0
        try:
            while not self._stopping.is_set() and self._keep_lock() and self._wanted():
                try:
                    if client is None:
                        # The snapshot outlives a lost connection: what changed while the server
                        # was gone (new mail, above all) is published once it is back.
                        client = self._connect()
                        if client is None:
                            continue  # every connection of the user is busy: queue again
                    with map_imap_errors():
                        client.noop()  # STATUS of the selected INBOX reflects this session's view
                        latest = Snapshot.of(list_folders(client))
                        if snapshot is not None:
                            self._publish_changes(client, snapshot, latest)
                        snapshot = latest
                        self.redis.set(
                            self.keys.mailbox_state(self.user), latest.digest(), ex=LOCK_SECONDS * 4
                        )
                        self._idle(client)
                    backoff = 1.0
                except (IMAPError, OSError) as exc:
                    logger.info("watcher for %s lost its connection: %s", self.user, exc)
                    self._drop(client)
                    client = None
                    self._stopping.wait(backoff)
                    backoff = min(backoff * 2, 30)
        finally:
            self._drop(client)
            self._release_lock()
            self.redis.close()

    def _connect(self) -> IMAPClient | None:
        """A connection of our own on INBOX; None if the cap stayed full of busy connections."""
        lease = SyncLease(
            self.redis,
            self.settings.redis_prefix,
            self.user,
            self.settings.imap_max_connections_per_user,
            self.settings.imap_lease_seconds,
            priority=Priority.WATCHER,
            holder=self.holder,
        )
        if not lease.acquire(CONNECT_WAIT_SECONDS):
            return None
        self._lease = lease
        try:
            client = open_client(self.settings, self.credentials)
        except BaseException:
            self._release_lease()
            raise
        try:
            with map_imap_errors():
                client.select_folder("INBOX", readonly=True)
        except BaseException:
            self._drop(client)
            raise
        return client

    def _idle(self, client: IMAPClient) -> None:
        """IDLE on INBOX until something happens there or the poll interval passes; a server
        without IDLE (RFC 2177) is polled at that interval instead."""
        if b"IDLE" not in client.capabilities():
            self._stopping.wait(self.poll_seconds)
            return
        client.idle()
        started = time.monotonic()
        try:
            responses = client.idle_check(timeout=self.poll_seconds)
        finally:
            client.idle_done()
        # A dropped connection answers BYE, or returns at once with nothing (FACTS: IDLE pitfalls).
        if any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses):
            raise OSError("server said BYE")
        if not responses and time.monotonic() - started < min(0.2, self.poll_seconds / 2):
            raise OSError("IDLE returned at once: the connection is gone")

    def _publish_changes(self, client: IMAPClient, before: Snapshot, after: Snapshot) -> None:
        changed = before.changed(after)
        if not changed:
            return
        publish(self.redis, self.keys, self.user, MailboxChanged(tuple(changed)))
        inbox_before = before.folders.get("INBOX", (0, 0, 0))[0] or 0
        inbox_after = after.folders.get("INBOX", (0, 0, 0))[0] or 0
        if "INBOX" in changed and inbox_after > inbox_before:
            newest = self._newest(client, inbox_after - inbox_before)
            if newest:
                publish(self.redis, self.keys, self.user, NewMail(tuple(newest)))

    def _newest(self, client: IMAPClient, count: int) -> list[NewMessage]:
        """Sender and subject of the newest INBOX messages, for a desktop notification."""
        with map_imap_errors():
            exists = int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
            low = max(1, exists - min(count, 5) + 1)
            # Sequence numbers, not UIDs: the last messages by position (UIDs have gaps).
            data = fetch_range(client, f"{low}:{exists}", ("UID", "ENVELOPE"), uid=False) if exists else {}
        newest = []
        for _, row in sorted(data.items()):
            envelope = row.get(b"ENVELOPE")
            if envelope is None:
                continue
            sender = envelope.from_[0] if envelope.from_ else None
            name = decode_words(sender.name) if sender and sender.name else ""
            address = f"{decode_words(sender.mailbox)}@{decode_words(sender.host)}" if sender else ""
            newest.append(NewMessage(name or address, decode_words(envelope.subject)))
        return newest

    # ------------------------------------------------------------------ lock, lease, streams

    def _keep_lock(self) -> bool:
        """Renew our lock (and our connection's lease); False if another worker owns it now."""
        key = self.keys.watcher_lock(self.user)
        owner = _text(self.redis.get(key))
        if owner is not None and owner != self.lock_token:
            return False
        self.redis.set(key, self.lock_token, px=LOCK_SECONDS * 1000)
        if self._lease is not None:
            self._lease.renew()
        return True

    def _wanted(self) -> bool:
        """True while the user has a live event stream anywhere (or had one moments ago)."""
        seconds, micros = self.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        live = int(self.redis.zcount(self.keys.event_streams(self.user), now_ms, "+inf"))
        if live:
            self._no_streams_since = None
            return True
        self._no_streams_since = self._no_streams_since or time.monotonic()
        return time.monotonic() - self._no_streams_since < STREAM_GRACE_SECONDS

    def _release_lock(self) -> None:
        key = self.keys.watcher_lock(self.user)
        try:
            if _text(self.redis.get(key)) == self.lock_token:
                self.redis.delete(key)
        except Exception:  # noqa: S110 - the lease expires by itself
            pass

    def _release_lease(self) -> None:
        if self._lease is not None:
            try:
                self._lease.release()
            except Exception:  # noqa: S110 - the lease expires by itself
                pass
            self._lease = None

    def _drop(self, client: IMAPClient | None) -> None:
        if client is not None:
            close_client(client)
        self._release_lease()


class Watchers:
    """This worker's watcher threads; ``ensure()`` starts one if no worker watches the user yet."""

    def __init__(self, settings: Settings, poll_seconds: float = 2.0, *, holder: str | None = None) -> None:
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.holder = holder
        self._threads: dict[str, MailboxWatcher] = {}
        self._redis = create_sync_redis(settings, socket_timeout=5)
        self._keys = Keys(settings.redis_prefix)
        self._lock = threading.Lock()

    def ensure(self, credentials: Credentials) -> bool:
        """Blocking (call from a thread). True if this worker now watches the user."""
        user = credentials.username
        with self._lock:
            running = self._threads.get(user)
            if running is not None and running.is_alive():
                return True
            token = secrets.token_hex(8)
            if not self._redis.set(self._keys.watcher_lock(user), token, nx=True, px=LOCK_SECONDS * 1000):
                return False
            watcher = MailboxWatcher(self.settings, credentials, token, self.poll_seconds, self.holder)
            self._threads[user] = watcher
            watcher.start()
            return True

    def stop(self, user: str) -> None:
        """Blocking: end this worker's watcher of ``user`` (signed out everywhere), if it has one."""
        with self._lock:
            watcher = self._threads.pop(user, None)
        if watcher is not None:
            watcher.stop()
            watcher.join(timeout=self.poll_seconds + 5)

    def stop_all(self) -> None:
        for watcher in self._threads.values():
            watcher.stop()
        for watcher in self._threads.values():
            watcher.join(timeout=self.poll_seconds + 5)
        self._threads.clear()
        self._redis.close()


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
