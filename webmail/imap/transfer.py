"""Export and import of whole folders: what goes over IMAP, in batches a page of memory holds.

Export fetches FLAGS, INTERNALDATE and RFC822.SIZE for a batch of UIDs, then the bodies of as
many messages as fit in ``BODY_BATCH_BYTES`` in one UID FETCH; a message larger than that is
fetched in partial BODY.PEEK chunks (``MailStore.stream``). Import appends with the flags and
arrival date the file gave and skips a Message-ID the folder already holds.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from webmail.imap.errors import QuotaExceededError, is_over_quota, map_imap_errors, server_text
from webmail.imap.messages import fetch_range, fetch_uids, search_uids
from webmail.imap.pool import IMAPConnection
from webmail.mail.mbox import DELETED, ImportEntry, message_id_of

BODY_BATCH_BYTES = 4 * 1024 * 1024
META_BATCH = 500
ID_BATCH = 5000
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*((?:.|\r\n[ \t])*)")


@dataclass(frozen=True)
class ExportMeta:
    uid: int
    size: int
    flags: frozenset[str]
    when: datetime | None


def export_uids(conn: IMAPConnection, folder: str, criteria: list[Any] | None) -> list[int]:
    """The UIDs to export, oldest first: the search hits of ``criteria``, or the whole folder."""
    state = conn.sync(folder)
    if not state.exists:
        return []
    return search_uids(conn.client, criteria or ["ALL"], "arrival", False)


def export_meta(conn: IMAPConnection, folder: str, uids: Sequence[int]) -> list[ExportMeta]:
    """Size, flags and arrival of each UID still in the folder, in the order given."""
    conn.sync(folder)
    rows = fetch_uids(conn.client, uids, ["FLAGS", "INTERNALDATE", "RFC822.SIZE"])
    found = []
    for uid in uids:
        row = rows.get(uid)
        if row is None:
            continue  # expunged meanwhile
        flags = frozenset(
            flag.decode() if isinstance(flag, bytes) else str(flag)
            for flag in row.get(b"FLAGS", ())
            if flag != b"\\Recent"
        )
        when = row.get(b"INTERNALDATE")
        found.append(
            ExportMeta(
                uid, int(row.get(b"RFC822.SIZE", 0)), flags, when if isinstance(when, datetime) else None
            )
        )
    return found


def export_bodies(conn: IMAPConnection, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
    """The whole raw messages of ``uids`` (BODY.PEEK[]: no \\Seen set by exporting)."""
    conn.sync(folder)
    rows = fetch_uids(conn.client, uids, ["BODY.PEEK[]"])
    return {uid: bytes(row.get(b"BODY[]") or b"") for uid, row in rows.items()}


def folder_message_ids(conn: IMAPConnection, folder: str) -> set[str]:
    """Every Message-ID in ``folder`` (what an import skips as already there)."""
    state = conn.sync(folder)
    ids: set[str] = set()
    for start in range(1, state.exists + 1, ID_BATCH):
        end = min(state.exists, start + ID_BATCH - 1)
        rows = fetch_range(
            conn.client, f"{start}:{end}", ["UID", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"], uid=False
        )
        for row in rows.values():
            value = next((v for k, v in row.items() if k.startswith(b"BODY[")), b"") or b""
            found = _MESSAGE_ID.search(bytes(value))
            if found:
                ids.add(re.sub(rb"\r\n[ \t]+", b" ", found.group(1)).decode("latin-1").strip())
    return ids


@dataclass
class ImportReport:
    """What an import did: counts, each refused message with its position and why, and the
    reason it stopped early (the mailbox is full) if it did."""

    imported: int = 0
    duplicates: int = 0
    deleted: int = 0  # marked deleted in the file (a mail program's not yet compacted deletion)
    refused: list[tuple[str, str]] = field(default_factory=list)
    stopped: str = ""
    remaining: int = 0  # left in the file after the stop

    @property
    def skipped(self) -> int:
        return self.duplicates + self.deleted


def import_entries(
    conn: IMAPConnection, folder: str, entries: deque[ImportEntry], known: set[str], report: ImportReport
) -> None:
    """Append ``entries`` to ``folder``, taking each off the queue once dealt with, and add to
    ``report`` and to the ``known`` Message-IDs.

    A message the server refuses is reported and the import goes on; QuotaExceededError stops
    it with the message it was refused for still queued. Run again after a lost connection,
    it goes on where it was."""
    while entries:
        entry = entries[0]
        _import_one(conn, folder, entry, known, report)
        entries.popleft()


def _import_one(
    conn: IMAPConnection, folder: str, entry: ImportEntry, known: set[str], report: ImportReport
) -> None:
    if entry.problem:
        report.refused.append((entry.label, entry.problem))
        return
    message_id = message_id_of(entry.raw)
    if message_id and message_id in known:
        report.duplicates += 1
        return
    if DELETED in entry.flags:
        report.deleted += 1
        return
    flags = [flag.encode() for flag in sorted(entry.flags)]
    with map_imap_errors():
        try:
            conn.client.append(folder, entry.raw, flags=flags, msg_time=entry.when)
        except IMAPClientAbortError:
            raise  # the connection is gone: the pool reconnects and this goes on where it was
        except IMAPClientError as exc:
            if is_over_quota(exc):
                raise QuotaExceededError() from exc
            report.refused.append((entry.label, f"the mail server refused it: {server_text(exc)[:200]}"))
            return
    if message_id:
        known.add(message_id)
    report.imported += 1
