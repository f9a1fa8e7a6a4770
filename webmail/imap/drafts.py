"""Drafts in the Drafts folder: each save APPENDs the new version, then removes the older ones.

A draft carries ``X-Webmail-Draft: <id>`` (the compose page's id), so any worker finds and
replaces the previous version without remembering its UID.
"""

from __future__ import annotations

from webmail.imap.errors import map_imap_errors
from webmail.imap.messages import search_arguments
from webmail.imap.organize import expunge_messages
from webmail.imap.pool import IMAPConnection
from webmail.imap.raw import uid_search

DRAFT_HEADER = "X-Webmail-Draft"


def _versions(conn: IMAPConnection, folder: str, draft_id: str) -> list[int]:
    conn.sync(folder)
    criteria = search_arguments(["HEADER", DRAFT_HEADER.encode(), draft_id.encode()])
    return sorted(uid_search(conn.client, criteria))


def save_draft(conn: IMAPConnection, folder: str, raw: bytes, draft_id: str) -> None:
    with map_imap_errors():
        older = _versions(conn, folder, draft_id)
        conn.client.append(folder, raw, flags=[b"\\Draft", b"\\Seen"])
        conn.selected = None  # the folder grew: count afresh
        if older:
            expunge_messages(conn, folder, older)


def discard_drafts(conn: IMAPConnection, folder: str, draft_id: str) -> int:
    with map_imap_errors():
        versions = _versions(conn, folder, draft_id)
        return expunge_messages(conn, folder, versions) if versions else 0


def find_draft(conn: IMAPConnection, folder: str, draft_id: str) -> int | None:
    """The UID of the newest saved version of a draft, or None if it has none."""
    with map_imap_errors():
        versions = _versions(conn, folder, draft_id)
    return versions[-1] if versions else None
