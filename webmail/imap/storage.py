"""What takes the space: folder sizes, the largest messages and the largest attachments.

Folder sizes come from STATUS=SIZE (RFC 8438) where the server has it; elsewhere they are the
sum of RFC822.SIZE, fetched for the whole folder off the request (``SizeCounter``) and kept in
Redis for every worker until the folder's state (UIDVALIDITY, message count, UIDNEXT,
HIGHESTMODSEQ) changes; until then the page says it is calculating. The largest messages come
from SORT (REVERSE SIZE) per folder (RFC 5256), or from those same counted sizes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from webmail.imap.messages import fetch_range, fetch_uids
from webmail.imap.pool import IMAPConnection
from webmail.imap.raw import uid_sort
from webmail.imap.types import Folder
from webmail.mail.headers import decode_words
from webmail.mail.structure import parse_bodystructure
from webmail.redis import Keys

logger = logging.getLogger(__name__)
LARGEST_PER_FOLDER = 100
LARGEST_SHOWN = 100
ATTACHMENTS_SHOWN = 20
SIZE_TTL_SECONDS = 7 * 24 * 3600
COUNT_LOCK_SECONDS = 300  # one count per user at a time, cluster-wide; a dead worker's lapses


@dataclass(frozen=True)
class LargeMessage:
    folder: str
    uid: int
    size: int
    subject: str
    sender: str
    when: datetime | None
    attachment_bytes: int
    attachments: tuple[str, ...]


@dataclass(frozen=True)
class FolderSize:
    folder: Folder
    size: int
    counted: bool  # summed from RFC822.SIZE here, not told by the server (STATUS=SIZE)


@dataclass(frozen=True)
class CountedSize:
    """A folder's summed RFC822.SIZE and its largest UIDs (largest first), for one state."""

    state: str
    total: int
    largest: list[int]


def folder_state(
    uidvalidity: int | None, messages: int | None, uidnext: int | None, modseq: int | None
) -> str:
    return f"{uidvalidity}:{messages}:{uidnext}:{modseq}"


def listed_state(folder: Folder) -> str:
    return folder_state(folder.uidvalidity, folder.messages, folder.uidnext, folder.highestmodseq)


def count_size(conn: IMAPConnection, folder: str) -> CountedSize:
    """The sum of RFC822.SIZE over ``folder`` and its largest UIDs (one FETCH of every size)."""
    state = conn.select(folder)
    sizes: list[tuple[int, int]] = []
    if state.exists:
        rows = fetch_range(conn.client, "1:*", ["UID", "RFC822.SIZE"], uid=False)
        sizes = [(int(row[b"UID"]), int(row.get(b"RFC822.SIZE", 0))) for row in rows.values()]
    largest = [uid for uid, _ in sorted(sizes, key=lambda pair: -pair[1])[:LARGEST_PER_FOLDER]]
    key = folder_state(state.uidvalidity, state.exists, state.uidnext, state.highestmodseq)
    return CountedSize(key, sum(size for _, size in sizes), largest)


def needs_count(folder: Folder, has_sort: bool) -> bool:
    """Whether the page needs the counted sizes of ``folder``: no STATUS=SIZE, or no SORT to
    find its largest messages."""
    return folder.selectable and folder.messages != 0 and (folder.size is None or not has_sort)


class SizeCounter:
    """Counted folder sizes, shared by every worker through Redis, and the counting itself,
    done off the request (one count per user at a time, cluster-wide)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self._tasks: set[asyncio.Task[None]] = set()

    async def known(self, user: str, folders: Iterable[Folder]) -> dict[str, CountedSize]:
        """The counted sizes of ``folders`` that still match the state the listing gives."""
        wanted = [folder for folder in folders if folder.selectable]
        if not wanted:
            return {}
        blobs = await self.redis.mget([self.keys.folder_size(user, f.name) for f in wanted])
        found = {}
        for folder, blob in zip(wanted, blobs, strict=True):
            counted = _from_json(blob)
            if counted is not None and counted.state == listed_state(folder):
                found[folder.name] = counted
        return found

    async def put(self, user: str, folder: str, counted: CountedSize) -> None:
        data = json.dumps([counted.state, counted.total, counted.largest], separators=(",", ":"))
        await self.redis.set(self.keys.folder_size(user, folder), data, ex=SIZE_TTL_SECONDS)

    async def start(
        self, user: str, folders: list[str], count: Callable[[str], Awaitable[CountedSize]]
    ) -> bool:
        """Count ``folders`` in the background unless a count of ``user``'s runs already."""
        lock = self.keys.size_count_lock(user)
        if not await self.redis.set(lock, "1", nx=True, ex=COUNT_LOCK_SECONDS):
            return False
        task = asyncio.get_running_loop().create_task(self._count(user, folders, count, lock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _count(
        self, user: str, folders: list[str], count: Callable[[str], Awaitable[CountedSize]], lock: str
    ) -> None:
        try:
            for folder in folders:
                await self.put(user, folder, await count(folder))
        except Exception:  # the page goes on saying "calculating"; the next visit tries again
            logger.warning("counting folder sizes failed", exc_info=True)
        finally:
            await self.redis.delete(lock)

    async def wait(self) -> None:
        """Until the counts under way have ended (tests, and shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _from_json(blob: Any) -> CountedSize | None:
    try:
        state, total, largest = json.loads(blob) if blob is not None else (None, 0, [])
    except (ValueError, TypeError):
        return None
    if not isinstance(state, str) or not isinstance(total, int) or not isinstance(largest, list):
        return None
    return CountedSize(state, total, [int(uid) for uid in largest])


def folder_size(folder: Folder, counted: Mapping[str, CountedSize]) -> FolderSize | None:
    """``folder``'s size: told by the server, counted, or None while it is being counted."""
    if folder.size is not None:
        return FolderSize(folder, folder.size, False)
    if folder.name in counted:
        return FolderSize(folder, counted[folder.name].total, True)
    if not folder.messages:
        return FolderSize(folder, 0, False)
    return None


def largest_in(
    conn: IMAPConnection, folder: Folder, counted: Mapping[str, CountedSize], limit: int
) -> list[int] | None:
    """The UIDs of the ``limit`` largest messages of ``folder``, largest first (None while the
    sizes that find them without SORT are being counted)."""
    if not folder.messages:
        return []
    if b"SORT" in conn.client.capabilities():
        conn.select(folder.name)
        return uid_sort(conn.client, b"(REVERSE SIZE)", [b"ALL"])[:limit]
    found = counted.get(folder.name)
    return None if found is None else found.largest[:limit]


def describe(conn: IMAPConnection, folder: Folder, uids: list[int]) -> list[LargeMessage]:
    """Size, subject, sender, arrival and attachments of ``uids`` in ``folder``."""
    if not uids:
        return []
    conn.select(folder.name)
    rows = fetch_uids(conn.client, uids, ["RFC822.SIZE", "ENVELOPE", "INTERNALDATE", "BODYSTRUCTURE"])
    found = []
    for uid in uids:
        row = rows.get(uid)
        if row is None:
            continue
        envelope = row.get(b"ENVELOPE")
        names, attached = _attachments(row.get(b"BODYSTRUCTURE"))
        when = row.get(b"INTERNALDATE")
        found.append(
            LargeMessage(
                folder=folder.name,
                uid=uid,
                size=int(row.get(b"RFC822.SIZE", 0)),
                subject=decode_words(envelope.subject) if envelope is not None else "",
                sender=_sender(envelope),
                when=when if isinstance(when, datetime) else None,
                attachment_bytes=attached,
                attachments=names,
            )
        )
    return found


def _sender(envelope: Any) -> str:
    if envelope is None or not envelope.from_:
        return ""
    first = envelope.from_[0]
    name = decode_words(first.name) if first.name else ""
    if name:
        return name
    mailbox = (first.mailbox or b"").decode(errors="replace")
    host = (first.host or b"").decode(errors="replace")
    return f"{mailbox}@{host}" if host else mailbox


def _attachments(raw: Any) -> tuple[tuple[str, ...], int]:
    if raw is None:
        return (), 0
    try:
        structure = parse_bodystructure(raw)
    except (ValueError, TypeError, IndexError):
        return (), 0
    names: list[str] = []
    total = 0
    for part in structure.walk():
        if part.is_multipart or not part.is_attachment:
            continue
        names.append(part.filename or part.content_type)
        total += part.size or 0
    return tuple(names), total


@dataclass(frozen=True)
class StorageOverview:
    folders: list[FolderSize]
    largest: list[LargeMessage]
    attachments: list[LargeMessage]  # the largest messages by the size of their attachments
    bins: list[FolderSize]  # Trash and Junk: what emptying them frees
    pending: list[Folder]  # sizes still being counted (no STATUS=SIZE, or no SORT)

    @property
    def total(self) -> int:
        return sum(item.size for item in self.folders)
