"""Moving, deleting and flagging messages: MOVE (RFC 6851) or COPY + \\Deleted + UID EXPUNGE.

Moves report the messages' new UIDs (COPYUID, RFC 4315), which is what Undo needs. A server
without UIDPLUS has no UID EXPUNGE either: there a plain EXPUNGE removes the messages, with the
\\Deleted of any others in the folder taken off for that moment and put back after.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from imapclient import DELETED

from webmail.imap.errors import refused
from webmail.imap.messages import UID_BATCH
from webmail.imap.pool import IMAPConnection
from webmail.imap.raw import pop_untagged, uid_copy, uid_expunge, uid_mark_deleted, uid_move, uid_search
from webmail.imap.uidset import UIDSet, parse_uid_set, uid_set

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MoveResult:
    source: str
    target: str
    new_uids: tuple[int, ...]  # in the target folder, when the server says (UIDPLUS)


def move_messages(conn: IMAPConnection, folder: str, uids: Sequence[int], target: str) -> MoveResult:
    """Move ``uids`` from ``folder`` to ``target``, in chunks the server's line length allows."""
    conn.sync(folder)
    client = conn.client
    new_uids: list[int] = []
    for start in range(0, len(uids), UID_BATCH):
        batch = uid_set(uids[start : start + UID_BATCH])
        pop_untagged(client, "COPYUID")  # it accumulates otherwise (FACTS 1.1)
        if b"MOVE" in client.capabilities():
            typ, data = uid_move(client, batch, target)
            if typ != "OK":
                raise refused("UID MOVE", data, "The mail server refused to move the messages")
        else:
            typ, data = uid_copy(client, batch, target)
            if typ != "OK":
                raise refused("UID COPY", data, "The mail server refused to move the messages")
            _remove(conn, batch, "The messages were copied but not removed")
        for line in pop_untagged(client, "COPYUID"):
            parts = _text(line).split()
            if len(parts) >= 3:
                new_uids.extend(_reported(parts[2], batch))
        copyuid = _copyuid_from(data, batch)
        if copyuid:
            new_uids.extend(copyuid)
    conn.selected = None  # the EXPUNGEs went by inside the command: count afresh next time
    return MoveResult(folder, target, tuple(new_uids))


def copy_messages(conn: IMAPConnection, folder: str, uids: Sequence[int], target: str) -> int:
    """UID COPY in chunks; the originals stay."""
    conn.sync(folder)
    for start in range(0, len(uids), UID_BATCH):
        typ, data = uid_copy(conn.client, uid_set(uids[start : start + UID_BATCH]), target)
        if typ != "OK":
            raise refused("UID COPY", data, "The mail server refused to copy the messages")
    return len(uids)


def expunge_messages(conn: IMAPConnection, folder: str, uids: Sequence[int]) -> int:
    """Delete for good: \\Deleted, then UID EXPUNGE of just these (never a plain EXPUNGE)."""
    conn.sync(folder)
    for start in range(0, len(uids), UID_BATCH):
        _remove(
            conn, uid_set(uids[start : start + UID_BATCH]), "The mail server refused to delete the messages"
        )
    conn.selected = None
    return len(uids)


def _remove(conn: IMAPConnection, batch: str, doing: str) -> None:
    """\\Deleted and expunge just the messages of ``batch`` in the selected folder."""
    client = conn.client
    typ, data = uid_mark_deleted(client, batch)
    if typ != "OK":
        raise refused("UID STORE", data, doing)
    if b"UIDPLUS" in client.capabilities():
        typ, data = uid_expunge(client, batch)
        if typ != "OK":
            raise refused("UID EXPUNGE", data, doing)
        return
    # Without UID EXPUNGE (RFC 4315), EXPUNGE would also remove whatever else is marked \\Deleted.
    ours = parse_uid_set(batch)
    others = [uid for uid in uid_search(client, [b"DELETED"]) if uid not in ours]
    logger.warning("no UIDPLUS: EXPUNGE with %d other deleted messages unmarked for it", len(others))
    if others:
        client.remove_flags(others, [DELETED], silent=True)
    try:
        client.expunge()
    finally:
        if others:
            client.add_flags(others, [DELETED], silent=True)


def add_keyword(conn: IMAPConnection, folder: str, uids: Sequence[int], keyword: str) -> None:
    conn.sync(folder)
    conn.client.add_flags(list(uids), [keyword.encode()], silent=True)


def _copyuid_from(data: list[object], batch: str) -> list[int]:
    """COPYUID in the tagged OK of COPY (``[COPYUID 123 1:3 7:9] Done``)."""
    for item in data or []:
        text = _text(item)
        if "[COPYUID " in text:
            parts = text.split("[COPYUID ", 1)[1].split("]", 1)[0].split()
            if len(parts) >= 3:
                return _reported(parts[2], batch)
    return []


def _reported(new_set: str, batch: str) -> list[int]:
    """The new UIDs a server reported for ``batch``: never more than the batch named."""
    try:
        return parse_uid_set(new_set).expand(limit=parse_uid_set(batch).span)
    except ValueError:
        return []


def existing_uids(conn: IMAPConnection, folder: str, uids: UIDSet, limit: int) -> list[int]:
    """The UIDs of ``uids`` that are messages in ``folder``, asked of the server range by range
    (a forged ``1:4000000000`` costs one SEARCH); ValueError if more than ``limit`` exist."""
    conn.sync(folder)
    found: list[int] = []
    for chunk in uids.chunks(UID_BATCH):
        found.extend(int(uid) for uid in conn.client.search(["UID", str(chunk)]))
        if len(found) > limit:
            raise ValueError(f"more than {limit} messages")
    return sorted(set(found))


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def append_message(conn: IMAPConnection, folder: str, raw: bytes, flags: Sequence[str]) -> None:
    """Store a message (e.g. a copy of what was sent, in Sent)."""
    conn.client.append(folder, raw, flags=[flag.encode() for flag in flags])


def all_uids(conn: IMAPConnection, folder: str) -> list[int]:
    """Every UID in the folder (for "select all N"): UID SEARCH ALL, no message data."""
    conn.sync(folder)
    return sorted(int(uid) for uid in conn.client.search(["ALL"]))


def arrival_dates(conn: IMAPConnection, folder: str, uids: Sequence[int]) -> dict[int, datetime]:
    """INTERNALDATE of each message (what archiving by year or month goes by)."""
    conn.sync(folder)
    dates: dict[int, datetime] = {}
    for start in range(0, len(uids), UID_BATCH):
        rows = conn.client.fetch(list(uids[start : start + UID_BATCH]), ["INTERNALDATE"])
        for uid, row in rows.items():
            when = row.get(b"INTERNALDATE")
            if isinstance(when, datetime):
                dates[int(uid)] = when
    return dates


def ensure_folder(conn: IMAPConnection, name: str) -> None:
    """Create (and subscribe) a folder if it is missing, e.g. Archive/2026."""
    client = conn.client
    if not client.folder_exists(name):
        client.create_folder(name)
        client.subscribe_folder(name)
