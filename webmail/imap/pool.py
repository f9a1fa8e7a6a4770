"""Per-process pool of logged-in IMAP connections, one per signed-in session.

imapclient blocks and is not thread-safe, so each connection has a lock that is taken
inside the worker thread, and all IMAP work runs through one capacity limiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import anyio
import anyio.to_thread
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from webmail.config import Settings
from webmail.imap.client import close_client, open_client
from webmail.imap.errors import FolderNotFoundError, UnavailableError, map_imap_errors
from webmail.imap.types import Credentials, FolderState

T = TypeVar("T")


class IMAPConnection:
    """One logged-in client, used by one thread at a time; remembers the selected folder."""

    def __init__(self, client: IMAPClient) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.selected: FolderState | None = None

    def run(self, work: IMAPWork[T]) -> T:
        with self.lock:
            self.last_used = time.monotonic()
            try:
                with map_imap_errors():
                    return work(self)
            finally:
                self.last_used = time.monotonic()

    def select(self, folder: str, *, refresh: bool = True) -> FolderState:
        """SELECT ``folder``; with ``refresh=False`` an already selected folder is kept as is."""
        if not refresh and self.selected is not None and self.selected.name == folder:
            return self.selected
        self.selected = None
        try:
            response = self.client.select_folder(folder)
        except IMAPClientError as exc:
            if b"NONEXISTENT" in str(exc).encode() or "doesn't exist" in str(exc):
                raise FolderNotFoundError() from exc
            raise
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


class IMAPPool:
    def __init__(self, settings: Settings, *, max_threads: int = 16) -> None:
        self.settings = settings
        self._connections: dict[str, IMAPConnection] = {}
        self._limiter = anyio.CapacityLimiter(max_threads)
        self._opening: dict[str, anyio.Lock] = {}

    def __len__(self) -> int:
        return len(self._connections)

    async def login(self, key: str, credentials: Credentials) -> None:
        """Log in (checking the password) and keep the connection for the session ``key``."""
        client = await anyio.to_thread.run_sync(
            open_client, self.settings, credentials, limiter=self._limiter
        )
        await self.close(key)
        self._connections[key] = IMAPConnection(client)

    async def run(self, key: str, credentials: Credentials, work: IMAPWork[T]) -> T:
        """Run ``work(client)`` on the session's connection; reconnect and retry once if it died."""
        connection = await self._get(key, credentials)
        try:
            return await anyio.to_thread.run_sync(connection.run, work, limiter=self._limiter)
        except UnavailableError:
            await self._discard(key, connection)
        connection = await self._get(key, credentials)
        return await anyio.to_thread.run_sync(connection.run, work, limiter=self._limiter)

    async def close(self, key: str) -> None:
        connection = self._connections.pop(key, None)
        if connection is not None:
            await anyio.to_thread.run_sync(connection.close, limiter=self._limiter)

    async def close_idle(self, max_idle_seconds: float) -> int:
        now = time.monotonic()
        idle = [
            key
            for key, conn in self._connections.items()
            if now - conn.last_used > max_idle_seconds and not conn.lock.locked()
        ]
        for key in idle:
            await self.close(key)
        return len(idle)

    async def close_all(self) -> None:
        for key in list(self._connections):
            await self.close(key)

    async def _get(self, key: str, credentials: Credentials) -> IMAPConnection:
        connection = self._connections.get(key)
        if connection is not None:
            return connection
        opening = self._opening.setdefault(key, anyio.Lock())
        async with opening:
            connection = self._connections.get(key)
            if connection is None:
                client = await anyio.to_thread.run_sync(
                    open_client, self.settings, credentials, limiter=self._limiter
                )
                connection = self._connections[key] = IMAPConnection(client)
        self._opening.pop(key, None)
        return connection

    async def _discard(self, key: str, connection: IMAPConnection) -> None:
        if self._connections.get(key) is connection:
            del self._connections[key]
        try:
            await anyio.to_thread.run_sync(connection.close, limiter=self._limiter)
        except UnavailableError:
            pass
