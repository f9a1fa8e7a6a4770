"""Per-process pool of warm, logged-in IMAP connections for each signed-in user.

A request checks a connection out for itself (imapclient blocks and is not thread-safe), runs
its work in a thread through one capacity limiter, and checks it back in. Each open connection
holds a lease of the cluster-wide cap (``cap.py``), so more workers never mean more connections
per user. When the cap is full, a request queues in Redis and the least recently used idle
connection anywhere in the cluster is closed for it; a connection checked in while a better
request waits elsewhere (the watcher, an earlier page load) is closed and its slot handed on.
A connection that died is replaced and the work retried once.

Connections are kept per account (the canonical name they logged in with, ``Credentials.username``)
and handed only to a request with the very credentials that opened them: a keyed hash of name and
password is kept with each, so a stale or different password never rides on another's LOGIN.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import anyio
import anyio.to_thread
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from webmail.config import Settings
from webmail.imap import metrics
from webmail.imap.cap import RECLAIM_SECONDS, ConnectionCap, Priority, Ticket
from webmail.imap.client import close_client, open_client
from webmail.imap.errors import (
    AuthFailedError,
    CredentialsRejectedError,
    FolderNotFoundError,
    MailboxBusyError,
    UnavailableError,
    map_imap_errors,
    names_missing_folder,
    refused,
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
        self.closed = False

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
            # Dovecot answers a name outside every namespace (no "INBOX." where it needs one) so.
            if names_missing_folder(exc) or any(w in str(exc) for w in ("nonexistent namespace", "Noselect")):
                raise FolderNotFoundError() from exc
            raise refused("SELECT", exc, "This folder cannot be opened") from exc
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


class _Waiter:
    """A request of this worker waiting for one of the user's connections."""

    def __init__(self, credential: bytes) -> None:
        self.credential = credential
        self.started = time.monotonic()
        self.wake = anyio.Event()
        self.parked = False  # waiting to be woken, so it may be handed a connection
        self.connection: IMAPConnection | None = None


class _UserConnections:
    def __init__(self) -> None:
        self.connections: list[IMAPConnection] = []
        self.opening = 0
        self.queued = 0  # requests of this worker queued in Redis for a slot of the cap
        self.waiters: deque[_Waiter] = deque()  # requests that may reuse a pooled connection, first first

    def poke(self) -> None:
        """Something changed (a connection closed or came back): waiters look again."""
        for waiter in self.waiters:
            waiter.wake.set()

    def parked(self, credential: bytes) -> _Waiter | None:
        """The first request waiting for a connection opened with ``credential``."""
        return next(
            (
                w
                for w in self.waiters
                if w.parked and w.connection is None and hmac.compare_digest(w.credential, credential)
            ),
            None,
        )

    def room(self, per_worker: int) -> bool:
        return len(self.connections) + self.opening + self.queued < per_worker

    def unused(self) -> bool:
        return not self.connections and not self.opening and not self.waiters


class IMAPPool:
    """This worker's connections. ``holder`` (``handover.py``) names a pool whose worker listens
    for hand-over requests: only then are its idle connections offered to other workers."""

    def __init__(
        self,
        settings: Settings,
        cap: ConnectionCap | None = None,
        *,
        priority: Priority = Priority.INTERACTIVE,
        holder: str | None = None,
        max_threads: int = 32,
    ) -> None:
        self.settings = settings
        self.cap = cap
        self.priority = priority
        self.holder = holder
        self.per_worker = settings.imap_pool_per_worker
        self.wait_seconds = settings.imap_cap_wait_seconds
        self._users: dict[str, _UserConnections] = {}
        self._tickets: dict[str, _Waiter] = {}  # queued leases, to wake their request when granted
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

    @property
    def _advertises(self) -> bool:
        return self.cap is not None and self.holder is not None

    async def login(self, credentials: Credentials) -> None:
        """Check the password with a fresh LOGIN and keep the connection warm if there is room."""
        user = credentials.username
        entry = self._entry(user)
        while len(entry.connections) >= self.per_worker:
            idle = next((c for c in entry.connections if not c.busy), None)
            if idle is None:
                break
            await self._discard(user, idle)
        entry.opening += 1  # so that close_idle() keeps this entry while we log in
        try:
            connection = await self._acquire(user, credentials, reuse=False)
        finally:
            entry.opening -= 1
        if len(entry.connections) <= self.per_worker:
            await self._release(user, connection)
        else:
            await self._discard(user, connection)

    async def run(
        self, credentials: Credentials, work: IMAPWork[T], operation: str = "", *,
        then: Callable[[T], T] | None = None,
    ) -> T:  # fmt: skip
        """Run ``work(connection)`` on one of the user's connections; retry once on a dead one.
        ``then`` is CPU work on the result, done in the same worker thread once the connection's
        work is (a thread hop costs about 0.1 ms); it is not counted as the IMAP server's time."""
        user = credentials.username
        for attempt in (1, 2):
            try:
                connection = await self._acquire(user, credentials, reuse=True)
            except AuthFailedError as exc:
                # The session's password no longer works: changed elsewhere.
                raise CredentialsRejectedError() from exc
            try:
                result = await anyio.to_thread.run_sync(
                    _run_then, connection, work, operation, then, limiter=self._limiter
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

    async def retire_all(self) -> None:
        """Close every connection (idle ones now, busy ones when freed): our leases were voided."""
        for user in list(self._users):
            await self.close_user(user)

    async def let_go(self, user: str, lease: str) -> None:
        """A request elsewhere claimed this idle connection: log out and hand its slot on."""
        entry = self._users.get(user)
        connection = next((c for c in entry.connections if c.lease == lease), None) if entry else None
        if connection is None:
            return
        metrics.HANDOVERS_GIVEN.inc()
        if connection.busy:  # checked out a moment ago: it goes when it comes back
            connection.retire = True
        else:
            await self._discard(user, connection)

    def granted(self, lease: str) -> None:
        """A queued request of this worker was given its slot: wake it."""
        waiter = self._tickets.get(lease)
        if waiter is not None:
            waiter.wake.set()

    async def close_idle(self, max_idle_seconds: float) -> int:
        now = time.monotonic()
        closed = 0
        for user, entry in list(self._users.items()):
            for connection in list(entry.connections):
                if not connection.busy and now - connection.last_used > max_idle_seconds:
                    await self._discard(user, connection)
                    closed += 1
            if entry.unused():
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
                    await self._release(user, connection)

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

    def _entry(self, user: str) -> _UserConnections:
        return self._users.setdefault(user, _UserConnections())

    async def _acquire(self, user: str, credentials: Credentials, *, reuse: bool) -> IMAPConnection:
        """A connection for one request: an idle pooled one (with ``reuse``), else a new one
        under a slot of the cap, queueing for a hand-over while the cap is full."""
        deadline = time.monotonic() + self.wait_seconds
        entry = self._entry(user)
        waiter = _Waiter(self._credential(credentials))
        ticket: Ticket | None = None
        waited = False
        if reuse:
            entry.waiters.append(waiter)
        try:
            while True:
                connection = waiter.connection or (
                    await self._take_idle(user, entry, waiter) if reuse else None
                )
                if connection is not None:
                    return connection
                if reuse and not entry.room(self.per_worker) and await self._make_room(user, entry, waiter):
                    continue
                if self.cap is None and (not reuse or entry.room(self.per_worker)):
                    return await self._open(user, credentials, entry, None)
                if ticket is None and self.cap is not None and (not reuse or entry.room(self.per_worker)):
                    ticket = Ticket.issue(self.priority, self.wait_seconds, self.holder)
                    self._tickets[ticket.lease] = waiter
                    entry.queued += 1
                if ticket is not None:
                    assert self.cap is not None
                    claim = await self.cap.claim(user, ticket)
                    if claim.granted:
                        lease, ticket = self._done(entry, ticket), None
                        return await self._open(user, credentials, entry, lease)
                    if claim.ask is not None:
                        await self.cap.ask_release(user, claim.ask)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if ticket is not None and await self.cap.cancel(user, ticket):  # type: ignore[union-attr]
                        ticket.served()
                        lease, ticket = self._done(entry, ticket), None
                        return await self._open(user, credentials, entry, lease)
                    metrics.CAP_TIMEOUTS.inc()
                    raise MailboxBusyError()
                if not waited:
                    metrics.CAP_WAITS.inc()
                    waited = True
                waiter.parked = True
                with anyio.move_on_after(min(remaining, RECLAIM_SECONDS)):
                    await waiter.wake.wait()
                waiter.parked = False
                waiter.wake = anyio.Event()
        finally:
            waiter.parked = False
            if waiter in entry.waiters:
                entry.waiters.remove(waiter)
            if ticket is not None:
                lease = self._done(entry, ticket)
                with anyio.CancelScope(shield=True):
                    if await self.cap.cancel(user, ticket):  # type: ignore[union-attr]
                        await self.cap.release(user, lease)  # type: ignore[union-attr]

    def _done(self, entry: _UserConnections, ticket: Ticket) -> str:
        """The ticket leaves this worker's books (granted, or about to be cancelled); its lease."""
        self._tickets.pop(ticket.lease, None)
        entry.queued -= 1
        return ticket.lease

    async def _make_room(self, user: str, entry: _UserConnections, waiter: _Waiter) -> bool:
        """Full, maybe of idle connections another password opened (changed since): close one."""
        other = next((c for c in entry.connections if not c.busy and c.credential != waiter.credential), None)
        if other is not None:
            await self._discard(user, other)
        return other is not None

    async def _take_idle(self, user: str, entry: _UserConnections, waiter: _Waiter) -> IMAPConnection | None:
        while True:
            idle = next(
                (
                    c
                    for c in entry.connections
                    if not c.busy and not c.retire and hmac.compare_digest(c.credential, waiter.credential)
                ),
                None,
            )
            if idle is None:
                return None
            idle.busy = True
            if not self._advertises or idle.lease is None:
                return idle
            with anyio.CancelScope(shield=True):
                ours = await self.cap.check_out(user, idle.lease)  # type: ignore[union-attr]
            if ours and not idle.retire:
                return idle
            await self._discard(user, idle)  # a request elsewhere claimed it first

    async def _open(
        self, user: str, credentials: Credentials, entry: _UserConnections, lease: str | None
    ) -> IMAPConnection:
        """Log in under ``lease`` (already ours); the new connection is checked out."""
        entry.opening += 1
        try:
            client = await anyio.to_thread.run_sync(
                open_client, self.settings, credentials, limiter=self._limiter
            )
        except BaseException:
            if lease is not None and self.cap is not None:
                with anyio.CancelScope(shield=True):
                    await self.cap.release(user, lease)
            raise
        finally:
            entry.opening -= 1
        metrics.CONNECTIONS_OPENED.inc()
        metrics.POOL_CONNECTIONS.inc()
        connection = IMAPConnection(client, lease, self._credential(credentials))
        connection.busy = True
        entry.connections.append(connection)
        return connection

    async def _release(self, user: str, connection: IMAPConnection) -> None:
        """Check a connection in: to the first local waiter, back to the pool, or, when a better
        request waits elsewhere (or its lease is void), closed so that its slot moves on."""
        with anyio.CancelScope(shield=True):  # a request cancelled now must not strand it busy
            await self._check_in(user, connection)

    async def _check_in(self, user: str, connection: IMAPConnection) -> None:
        while True:
            entry = self._users.get(user)
            if entry is None or connection.retire or connection not in entry.connections:
                await self._discard(user, connection)
                return
            waiter = entry.parked(connection.credential)
            if waiter is None and len(entry.connections) > self.per_worker:
                await self._discard(user, connection)  # a grant let this worker open one too many
                return
            if self.cap is not None and connection.lease is not None:
                waiting = (self.priority, time.monotonic() - waiter.started) if waiter else None
                verdict = await self.cap.check_in(
                    user, connection.lease, waiting, advertise=self._advertises and waiter is None
                )
                if verdict != "keep" or connection.retire:
                    if verdict == "handover":
                        metrics.HANDOVERS_GIVEN.inc()
                    await self._discard(user, connection)
                    return
            connection.last_used = time.monotonic()
            if waiter is None:
                connection.busy = False
                entry.poke()
                return
            if waiter.parked and waiter.connection is None:
                waiter.connection = connection
                waiter.wake.set()
                return
            # That waiter stopped waiting while we asked Redis: check in again.

    async def _discard(self, user: str, connection: IMAPConnection) -> None:
        if connection.closed:
            return
        connection.closed = True
        entry = self._users.get(user)
        if entry is not None and connection in entry.connections:
            entry.connections.remove(connection)
            entry.poke()
        await self._close(user, connection)

    async def _close(self, user: str, connection: IMAPConnection) -> None:
        """LOGOUT first, then release the lease: the cap is never exceeded at the server."""
        metrics.POOL_CONNECTIONS.dec()
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(connection.close, limiter=self._limiter)
            finally:
                if connection.lease is not None and self.cap is not None:
                    await self.cap.release(user, connection.lease)


def _run_then(
    connection: IMAPConnection, work: IMAPWork[T], operation: str, then: Callable[[T], T] | None
) -> T:
    result = connection.run(work, operation)
    return result if then is None else then(result)


def _noop(connection: IMAPConnection) -> None:
    connection.client.noop()
