"""Drafts in the Drafts folder: each save APPENDs the new version, then removes the older ones.

A draft carries ``X-Webmail-Draft: <id>`` (the compose page's id), so any worker finds and
replaces the previous version without remembering its UID.
"""

from __future__ import annotations

from imapclient.response_parser import parse_message_list

from webmail.imap.errors import map_imap_errors
from webmail.imap.messages import search_arguments
from webmail.imap.organize import expunge_messages
from webmail.imap.pool import IMAPConnection

DRAFT_HEADER = "X-Webmail-Draft"


def _versions(conn: IMAPConnection, folder: str, draft_id: str) -> list[int]:
    conn.sync(folder)
    criteria = search_arguments(["HEADER", DRAFT_HEADER.encode(), draft_id.encode()])
    data = conn.client._raw_command_untagged(b"SEARCH", [b"CHARSET", b"UTF-8", *criteria])
    return sorted(int(uid) for uid in parse_message_list(data))


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
