"""Per-process pool of warm, logged-in IMAP connections for each signed-in user.

A request checks a connection out for itself (imapclient blocks and is not thread-safe), runs
its work in a thread through one capacity limiter, and checks it back in. Each open connection
holds a lease of the cluster-wide cap (``cap.py``), so more workers never mean more connections
per user. A connection that died is replaced and the work retried once.

Connections are kept per account (the canonical name they logged in with, ``Credentials.username``)
and handed only to a request with the very credentials that opened them: a keyed hash of name and
password is kept with each, so a stale or different password never rides on another's LOGIN.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import anyio
import anyio.to_thread
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from webmail.config import Settings
from webmail.imap import metrics
from webmail.imap.cap import ConnectionCap
from webmail.imap.client import close_client, open_client
from webmail.imap.errors import (
    AuthFailedError,
    CredentialsRejectedError,
    FolderNotFoundError,
    MailboxBusyError,
    ProtocolError,
    UnavailableError,
    map_imap_errors,
)
from webmail.imap.types import Credentials, FolderState

T = TypeVar("T")


class IMAPConnection:
    """One logged-in client, used by one thread at a time; remembers the selected folder."""

    def __init__(self, client: IMAPClient, lease: str | None = None, credential: bytes = b"") -> None:
        self.client = client
        self.lease = lease
        self.credential = credential  # IMAPPool's keyed hash of the name and password that opened it
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.selected: FolderState | None = None
        self.busy = False
        self.retire = False

    def run(self, work: IMAPWork[T], operation: str = "") -> T:
        with self.lock:
            self.last_used = time.monotonic()
            started = time.perf_counter()
            try:
                with map_imap_errors():
                    return work(self)
            finally:
                self.last_used = time.monotonic()
                label = operation or getattr(work, "__name__", "work")
                metrics.IMAP_LATENCY.labels(operation=label).observe(time.perf_counter() - started)

    def select(self, folder: str, *, refresh: bool = True) -> FolderState:
        """SELECT ``folder``; with ``refresh=False`` an already selected folder is kept as is."""
        if not refresh and self.selected is not None and self.selected.name == folder:
            return self.selected
        self.selected = None
        try:
            response = self.client.select_folder(folder)
        except IMAPClientAbortError:
            raise  # the connection is gone, not the folder
        except IMAPClientError as exc:
            text = str(exc)
            if "NONEXISTENT" in text or "doesn't exist" in text or "Noselect" in text:
                raise FolderNotFoundError() from exc
            raise ProtocolError("This folder cannot be opened: the mail server reported an error.") from exc
        modseq = response.get(b"HIGHESTMODSEQ")
        self.selected = FolderState(
            name=folder,
            uidvalidity=int(response[b"UIDVALIDITY"]),
            exists=int(response[b"EXISTS"]),
            uidnext=int(response[b"UIDNEXT"]) if b"UIDNEXT" in response else None,
            highestmodseq=int(modseq) if modseq is not None else None,
        )
        return self.selected

    def sync(self, folder: str) -> FolderState:
        """Make ``folder`` selected and its message count current.

        On a reused selection a NOOP (microseconds) replaces SELECT (tens of milliseconds on a
        big folder): the server answers it with EXISTS/EXPUNGE for changes made elsewhere.
        UIDNEXT and HIGHESTMODSEQ are only as fresh as the last SELECT.
        """
        if self.selected is None or self.selected.name != folder:
            return self.select(folder)
        _, responses = self.client.noop()
        exists = self.selected.exists
        for response in responses:
            if isinstance(response, tuple) and len(response) == 2 and isinstance(response[0], int):
                if response[1] == b"EXISTS":
                    exists = response[0]
                elif response[1] == b"EXPUNGE":
                    exists -= 1
        self.selected = replace(self.selected, exists=exists)
        return self.selected

    def close(self) -> None:
        with self.lock:
            close_client(self.client)


IMAPWork = Callable[[IMAPConnection], T]


class _UserConnections:
    def __init__(self) -> None:
        self.connections: list[IMAPConnection] = []
        self.opening = 0
        self.changed = anyio.Event()

    def notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()


class IMAPPool:
    def __init__(
        self,
        settings: Settings,
        cap: ConnectionCap | None = None,
        *,
        max_threads: int = 32,
    ) -> None:
        self.settings = settings
        self.cap = cap
        self.per_worker = settings.imap_pool_per_worker
        self.wait_seconds = settings.imap_cap_wait_seconds
        self._users: dict[str, _UserConnections] = {}
        self._limiter = anyio.CapacityLimiter(max_threads)
        self._credential_key = secrets.token_bytes(32)  # this process's; the hashes never leave it

    def __len__(self) -> int:
        return sum(len(entry.connections) for entry in self._users.values())

    def connections_of(self, user: str) -> int:
        entry = self._users.get(user)
        return len(entry.connections) if entry else 0

    def _credential(self, credentials: Credentials) -> bytes:
        secret = f"{credentials.username}\0{credentials.password}".encode()
        return hmac.digest(self._credential_key, secret, "sha256")

    async def login(self, credentials: Credentials) -> None:
        """Check the password with a fresh LOGIN and keep the connection warm if there is room."""
        user = credentials.username
        entry = self._users.setdefault(user, _UserConnections())
        while len(entry.connections) >= self.per_worker:
            idle = next((c for c in entry.connections if not c.busy), None)
            if idle is None:
                break
            await self._discard(user, idle)
        entry.opening += 1  # so that close_idle() keeps this entry while we log in
        try:
            connection = await self._open(user, credentials, deadline=time.monotonic() + self.wait_seconds)
        finally:
            entry.opening -= 1
        if len(entry.connections) < self.per_worker:
            entry.connections.append(connection)
            entry.notify()
        else:
            await self._close(user, connection)

    async def run(self, credentials: Credentials, work: IMAPWork[T], operation: str = "") -> T:
        """Run ``work(connection)`` on one of the user's connections; retry once on a dead one."""
        user = credentials.username
        for attempt in (1, 2):
            connection = await self._checkout(user, credentials)
            try:
                result = await anyio.to_thread.run_sync(
                    connection.run, work, operation, limiter=self._limiter
                )
            except UnavailableError:
                await self._discard(user, connection)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await self._release(user, connection)
                raise
            await self._release(user, connection)
            return result
        raise AssertionError("unreachable")

    async def close_user(self, user: str) -> None:
        """Close the user's connections in this worker (sign-out); busy ones close when freed."""
        entry = self._users.get(user)
        if entry is None:
            return
        for connection in list(entry.connections):
            if connection.busy:
                connection.retire = True
            else:
                await self._discard(user, connection)

    async def close_idle(self, max_idle_seconds: float) -> int:
        now = time.monotonic()
        closed = 0
        for user, entry in list(self._users.items()):
            for connection in list(entry.connections):
                if not connection.busy and now - connection.last_used > max_idle_seconds:
                    await self._discard(user, connection)
                    closed += 1
            if not entry.connections and not entry.opening:
                self._users.pop(user, None)
        metrics.POOL_USERS.set(sum(1 for entry in self._users.values() if entry.connections))
        return closed

    async def keep_alive(self, noop_after_seconds: float) -> None:
        """NOOP idle connections before the server's autologout (Dovecot: 30 min)."""
        now = time.monotonic()
        for user, entry in list(self._users.items()):
            for connection in list(entry.connections):
                if not connection.busy and now - connection.last_used > noop_after_seconds:
                    connection.busy = True
                    try:
                        await anyio.to_thread.run_sync(connection.run, _noop, limiter=self._limiter)
                    except UnavailableError:
                        await self._discard(user, connection)
                        continue
                    self._checkin(user, connection)

    async def renew_leases(self) -> None:
        if self.cap is None:
            return
        for user, entry in list(self._users.items()):
            leases = [c.lease for c in entry.connections if c.lease]
            if leases:
                await self.cap.renew(user, leases)

    async def close_all(self) -> None:
        for user, entry in list(self._users.items()):
            for connection in list(entry.connections):
                await self._discard(user, connection)
            if not entry.opening:
                self._users.pop(user, None)

    async def _checkout(self, user: str, credentials: Credentials) -> IMAPConnection:
        deadline = time.monotonic() + self.wait_seconds
        waited = False
        credential = self._credential(credentials)
        while True:
            # Looked up on every round: close_idle() drops a user's empty entry while we wait.
            entry = self._users.setdefault(user, _UserConnections())
            for idle in entry.connections:
                if not idle.busy and not idle.retire and hmac.compare_digest(idle.credential, credential):
                    idle.busy = True
                    return idle
            if len(entry.connections) + entry.opening >= self.per_worker:
                # Full, maybe of connections another password opened (changed since): make room.
                other = next(
                    (c for c in entry.connections if not c.busy and c.credential != credential), None
                )
                if other is not None:
                    await self._discard(user, other)
                    continue
            if len(entry.connections) + entry.opening < self.per_worker:
                entry.opening += 1
                connection: IMAPConnection | None
                try:
                    connection = await self._open(user, credentials, deadline=None)
                except MailboxBusyError:
                    connection = None
                except AuthFailedError as exc:
                    # The session's password no longer works: changed elsewhere.
                    raise CredentialsRejectedError() from exc
                finally:
                    entry.opening -= 1
                if connection is not None:
                    connection.busy = True
                    entry.connections.append(connection)
                    return connection
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                metrics.CAP_TIMEOUTS.inc()
                raise MailboxBusyError()
            if not waited:
                metrics.CAP_WAITS.inc()
                waited = True
            with anyio.move_on_after(min(remaining, 0.1)):
                await entry.changed.wait()

    async def _open(self, user: str, credentials: Credentials, *, deadline: float | None) -> IMAPConnection:
        """Take a lease (waiting until ``deadline``, or not at all) and log in."""
        lease: str | None = None
        while self.cap is not None:
            lease = await self.cap.try_acquire(user)
            if lease is not None:
                break
            if deadline is None or time.monotonic() >= deadline:
                raise MailboxBusyError()
            await anyio.sleep(0.1)
        try:
            client = await anyio.to_thread.run_sync(
                open_client, self.settings, credentials, limiter=self._limiter
            )
        except BaseException:
            if lease is not None and self.cap is not None:
                await self.cap.release(user, lease)
            raise
        metrics.CONNECTIONS_OPENED.inc()
        metrics.POOL_CONNECTIONS.inc()
        return IMAPConnection(client, lease, self._credential(credentials))

    async def _release(self, user: str, connection: IMAPConnection) -> None:
        if connection.retire:
            await self._discard(user, connection)
        else:
            self._checkin(user, connection)

    def _checkin(self, user: str, connection: IMAPConnection) -> None:
        connection.busy = False
        connection.last_used = time.monotonic()
        entry = self._users.get(user)
        if entry is not None:
            entry.notify()

    async def _discard(self, user: str, connection: IMAPConnection) -> None:
        entry = self._users.get(user)
        if entry is not None and connection in entry.connections:
            entry.connections.remove(connection)
            entry.notify()
        await self._close(user, connection)

    async def _close(self, user: str, connection: IMAPConnection) -> None:
        metrics.POOL_CONNECTIONS.dec()
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(connection.close, limiter=self._limiter)
            finally:
                if connection.lease is not None and self.cap is not None:
                    await self.cap.release(user, connection.lease)


def _noop(connection: IMAPConnection) -> None:
    connection.client.noop()
