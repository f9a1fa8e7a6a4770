"""Archiving by year and month, deleting for good in bulk, a server without MOVE, and chunking."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser, flash_after, make_settings, session_token, sign_in, undo_form
from tests.integration.test_organize import imap, made, put, subjects
from webmail.app import create_app
from webmail.devservices import DevServices
from webmail.devservices.dovecot import Dovecot, start_dovecot

__all__ = ["imap"]

# Dovecot 2.3's capabilities after login, without MOVE.
WITHOUT_MOVE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS "
    "LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH "
    "LIST-STATUS BINARY SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY "
    "SPECIAL-USE QUOTA"
)


def put_dated(imap: IMAPClient, subject: str, when: datetime) -> int:
    response = imap.append(
        "INBOX", f"Subject: {subject}\r\nFrom: a@example.org\r\n\r\nbody\r\n".encode(), msg_time=when
    )
    return int(str(response).split("APPENDUID ")[1].split()[1].rstrip("]'\""))


def undo_after(client: TestClient, response: object) -> tuple[str, dict[str, list[str]]]:
    """The Undo the page after this action offers (in its flash message)."""
    return undo_form(client.get(response.headers["location"]).text)  # type: ignore[attr-defined]


@pytest.mark.both_servers
def test_archive_by_month_creates_folders_and_undo_brings_all_back(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    box = imap_server.folder
    token = session_token(signed_in)
    saved = signed_in.post("/settings", data={"csrf_token": token, "page_size": "50", "mark_seen": "immediately",
                                              "archive_layout": "month", "keyboard_shortcuts": "on"})  # fmt: skip
    assert saved.status_code == 303
    old = put_dated(imap, "March 2025", datetime(2025, 3, 14, 12, 0))
    new = put_dated(imap, "June 2026", datetime(2026, 6, 2, 8, 0))
    response = signed_in.post(
        "/mail/INBOX/bulk", data={"csrf_token": token, "action": "archive", "uid": [str(old), str(new)]}
    )
    assert response.status_code == 303
    assert subjects(imap, box("Archive/2025/03")) == ["March 2025"]
    assert subjects(imap, box("Archive/2026/06")) == ["June 2026"]
    assert {box("Archive/2025/03"), box("Archive/2026/06")} <= {
        name for _, _, name in imap.list_sub_folders()
    }
    action, params = undo_after(signed_in, response)
    assert params["more"]  # two folders filled, both undone
    undo = signed_in.post(action, data={
        "csrf_token": token, "uids": params["uids"][0], "to": params["to"][0], "more": params["more"]})  # fmt: skip
    assert undo.status_code == 303
    assert sorted(subjects(imap, "INBOX")) == ["June 2026", "March 2025"]
    assert subjects(imap, box("Archive/2025/03")) == []

    signed_in.post("/settings", data={"csrf_token": token, "page_size": "50", "mark_seen": "immediately",
                                      "archive_layout": "year"})  # fmt: skip
    uid = put_dated(imap, "Year", datetime(2024, 1, 5, 9, 0))
    signed_in.post(f"/mail/INBOX/{uid}/archive", data={"csrf_token": token})
    assert subjects(imap, box("Archive/2024")) == ["Year"]


@pytest.mark.both_servers
def test_bulk_delete_in_trash_asks_then_deletes_for_good(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    trash = imap_server.folder("Trash")
    uids = [put(imap, f"junk {i}", trash) for i in range(3)]
    token = session_token(signed_in)
    fields = {"csrf_token": token, "action": "delete", "uid": [str(u) for u in uids[:2]]}
    question = signed_in.post(f"/mail/{trash}/bulk", data=fields)
    assert question.status_code == 200
    assert "Delete 2 messages for good?" in question.text
    assert len(subjects(imap, trash)) == 3  # nothing yet
    done = signed_in.post(f"/mail/{trash}/bulk", data={**fields, "confirm": "1"})
    assert "deleted for good" in flash_after(signed_in, done)
    assert subjects(imap, trash) == ["junk 2"]


@pytest.fixture(scope="module")
def dovecot_without_move() -> Iterator[Dovecot]:
    # Not under pytest's 0700 temp folders: Dovecot's unprivileged processes must reach it.
    root = Path(tempfile.mkdtemp(prefix="webmail-nomove-"))
    root.chmod(0o755)
    dovecot = start_dovecot(root / "dovecot", imap_capability=WITHOUT_MOVE)
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_a_server_without_move_gets_copy_and_uid_expunge(
    services: DevServices, database_url: str, dovecot_without_move: Dovecot
) -> None:
    user = MailUser(dovecot_without_move.new_user("pw"), "pw")
    other = IMAPClient("127.0.0.1", dovecot_without_move.imap_port, ssl=False)
    other.login(user.username, user.password)
    assert b"MOVE" not in other.capabilities()
    keep = put(other, "stays")
    moving = [put(other, f"move {i}") for i in range(3)]
    settings = make_settings(services, database_url, imap_port=dovecot_without_move.imap_port)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert sign_in(client, user).status_code == 303
        token = session_token(client)
        response = client.post("/mail/INBOX/bulk", data={"csrf_token": token, "action": "move", "to": "Archive",
                                                          "uid": [str(u) for u in moving]})  # fmt: skip
        _, params = undo_after(client, response)
        assert sorted(subjects(other, "Archive")) == ["move 0", "move 1", "move 2"]
        assert subjects(other, "INBOX") == ["stays"]  # only those were expunged
        assert keep
        client.post(
            "/mail/Archive/undo", data={"csrf_token": token, "uids": params["uids"][0], "to": "INBOX"}
        )
        assert sorted(subjects(other, "INBOX")) == ["move 0", "move 1", "move 2", "stays"]
    other.logout()


def test_twenty_thousand_messages_move_in_chunks_and_come_back(
    signed_in: TestClient, imap: IMAPClient, mail_user: MailUser, services: DevServices
) -> None:
    raw = b"Subject: bulk\r\nFrom: a@example.org\r\n\r\nx\r\n"
    for _ in range(10):  # MULTIAPPEND (RFC 3502): one command per 2,000 messages
        imap.multiappend("INBOX", [raw] * 2_000)
    token = session_token(signed_in)
    fields = {"csrf_token": token, "action": "move", "to": "Archive", "all": "1"}
    question = signed_in.post("/mail/INBOX/bulk", data=fields)  # more than a page: it asks first
    assert question.status_code == 200
    assert "Move 20000 messages to Archive?" in question.text
    imap.select_folder("Archive", readonly=True)
    assert imap.search(["ALL"]) == []
    moved = signed_in.post("/mail/INBOX/bulk", data={**fields, "confirm": "1"})
    assert moved.status_code == 303
    _, params = undo_after(signed_in, moved)
    imap.select_folder("Archive", readonly=True)
    assert len(imap.search(["ALL"])) == 20_000
    undo = signed_in.post(
        "/mail/Archive/undo", data={"csrf_token": token, "uids": params["uids"][0], "to": "INBOX"}
    )
    assert undo.status_code == 303
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search(["ALL"])) == 20_000
    imap.select_folder("Archive", readonly=True)
    assert imap.search(["ALL"]) == []


@pytest.mark.both_servers
def test_copy_keeps_the_originals(signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer) -> None:
    archive = made(imap, imap_server.folder("Archive"))
    uid = put(imap, "Twice")
    token = session_token(signed_in)
    done = signed_in.post(
        "/mail/INBOX/bulk", data={"csrf_token": token, "action": "copy", "to": archive, "uid": str(uid)}
    )
    assert "copied to Archive" in flash_after(signed_in, done)
    assert subjects(imap, "INBOX") == ["Twice"]
    assert subjects(imap, archive) == ["Twice"]
    missing = signed_in.post(
        "/mail/INBOX/bulk", data={"csrf_token": token, "action": "copy", "to": "Nowhere", "uid": str(uid)}
    )
    assert missing.status_code == 409
    assert "There is no folder called “Nowhere”" in missing.text
