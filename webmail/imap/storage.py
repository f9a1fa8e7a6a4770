"""What takes the space: folder sizes, the largest messages and the largest attachments.

Folder sizes come from STATUS=SIZE (RFC 8438) where the server has it; elsewhere they are the
sum of RFC822.SIZE, fetched for the whole folder once and kept (``SizeCache``) until the
folder's state (UIDVALIDITY, message count, UIDNEXT, HIGHESTMODSEQ) changes. The largest
messages come from SORT (REVERSE SIZE) per folder (RFC 5256), or from those same sizes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webmail.imap.messages import fetch_range, fetch_uids
from webmail.imap.pool import IMAPConnection
from webmail.imap.raw import uid_sort
from webmail.imap.types import Folder
from webmail.mail.headers import decode_words
from webmail.mail.structure import parse_bodystructure

LARGEST_PER_FOLDER = 100
LARGEST_SHOWN = 100
ATTACHMENTS_SHOWN = 20
CACHED_USERS = 256
_caches: OrderedDict[str, dict[str, tuple[str, int, list[int]]]] = OrderedDict()


def size_cache(user: str) -> SizeCache:
    """This process's counted folder sizes for ``user`` (the least recently used users go first)."""
    cache = _caches.pop(user, None) or {}
    _caches[user] = cache
    while len(_caches) > CACHED_USERS:
        _caches.popitem(last=False)
    return cache


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


# folder -> (its state, total bytes, the UIDs of its largest messages, largest first)
SizeCache = MutableMapping[str, tuple[str, int, list[int]]]


def _state(folder: Folder, uidnext: int | None) -> str:
    return f"{folder.uidvalidity}:{folder.messages}:{uidnext}:{folder.highestmodseq}"


def counted_size(conn: IMAPConnection, folder: Folder, cache: SizeCache) -> tuple[int, list[int]]:
    """The sum of RFC822.SIZE over ``folder`` and its largest UIDs, from ``cache`` while the
    folder is unchanged (a FETCH of every size otherwise)."""
    state = conn.select(folder.name)
    key = _state(folder, state.uidnext)
    cached = cache.get(folder.name)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    sizes: list[tuple[int, int]] = []
    if state.exists:
        rows = fetch_range(conn.client, "1:*", ["UID", "RFC822.SIZE"], uid=False)
        sizes = [(int(row[b"UID"]), int(row.get(b"RFC822.SIZE", 0))) for row in rows.values()]
    total = sum(size for _, size in sizes)
    largest = [uid for uid, _ in sorted(sizes, key=lambda pair: -pair[1])[:LARGEST_PER_FOLDER]]
    cache[folder.name] = (key, total, largest)
    return total, largest


def folder_sizes(conn: IMAPConnection, folders: Iterable[Folder], cache: SizeCache) -> list[FolderSize]:
    """Each selectable folder's size, largest first."""
    found = []
    for folder in folders:
        if not folder.selectable:
            continue
        if folder.size is not None:
            found.append(FolderSize(folder, folder.size, False))
        else:
            found.append(FolderSize(folder, counted_size(conn, folder, cache)[0], True))
    return sorted(found, key=lambda item: -item.size)


def largest_in(conn: IMAPConnection, folder: Folder, cache: SizeCache, limit: int) -> list[int]:
    """The UIDs of the ``limit`` largest messages of ``folder``, largest first."""
    if not folder.messages:
        return []
    if b"SORT" in conn.client.capabilities():
        conn.select(folder.name)
        return uid_sort(conn.client, b"(REVERSE SIZE)", [b"ALL"])[:limit]
    return counted_size(conn, folder, cache)[1][:limit]


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

    @property
    def total(self) -> int:
        return sum(item.size for item in self.folders)
