"""Moving, archiving, deleting and undoing from the reader, against Dovecot."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import MailUser, flash_after, session_token
from webmail.devservices import DevServices


@pytest.fixture
def imap(services: DevServices, mail_user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    yield client
    client.logout()


def put(imap: IMAPClient, subject: str, folder: str = "INBOX") -> int:
    response = imap.append(
        folder,
        f"From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@x>\r\n\r\nbody\r\n".encode(),
    )
    return int(re.search(rb"APPENDUID \d+ (\d+)", response).group(1))  # type: ignore[union-attr]


def subjects(imap: IMAPClient, folder: str) -> list[str]:
    imap.select_folder(folder)
    uids = imap.search(["ALL"])
    data = imap.fetch(uids, ["ENVELOPE"]) if uids else {}
    return sorted(row[b"ENVELOPE"].subject.decode() for row in data.values())


def test_delete_moves_to_trash_and_undo_brings_it_back(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Doomed")
    token = session_token(signed_in)
    response = signed_in.post(f"/mail/INBOX/{uid}/delete", data={"csrf_token": token})
    assert response.status_code == 303
    assert subjects(imap, "Trash") == ["Doomed"]
    assert subjects(imap, "INBOX") == []
    page = signed_in.get(response.headers["location"]).text
    assert "Moved to Trash." in page
    undo = re.search(
        r'action="(/mail/Trash/undo)".*?name="uids" value="([^"]+)".*?name="to" value="([^"]+)"', page, re.S
    )
    assert undo
    back = signed_in.post(
        undo.group(1), data={"csrf_token": token, "uids": undo.group(2), "to": undo.group(3)}
    )
    assert back.status_code == 303
    assert subjects(imap, "INBOX") == ["Doomed"]
    assert subjects(imap, "Trash") == []


def test_archive_junk_and_move(signed_in: TestClient, imap: IMAPClient) -> None:
    token = session_token(signed_in)
    a, b, c = put(imap, "Keep"), put(imap, "Spammy"), put(imap, "Project")
    imap.create_folder("Projects")
    assert signed_in.post(f"/mail/INBOX/{a}/archive", data={"csrf_token": token}).status_code == 303
    assert signed_in.post(f"/mail/INBOX/{b}/junk", data={"csrf_token": token}).status_code == 303
    assert (
        signed_in.post(f"/mail/INBOX/{c}/move", data={"csrf_token": token, "to": "Projects"}).status_code
        == 303
    )
    assert subjects(imap, "Archive") == ["Keep"]
    assert subjects(imap, "Junk") == ["Spammy"]
    assert subjects(imap, "Projects") == ["Project"]
    imap.select_folder("Junk")
    assert b"$Junk" in imap.get_flags(imap.search(["ALL"]))[imap.search(["ALL"])[0]]


def test_delete_in_trash_asks_then_deletes_for_good(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Old", folder="Trash")
    token = session_token(signed_in)
    ask = signed_in.post(f"/mail/Trash/{uid}/delete", data={"csrf_token": token})
    assert ask.status_code == 200
    assert "Delete this message for good?" in ask.text
    assert subjects(imap, "Trash") == ["Old"]
    done = signed_in.post(f"/mail/Trash/{uid}/delete", data={"csrf_token": token, "confirm": "1"})
    assert done.status_code == 303
    assert subjects(imap, "Trash") == []


def test_moving_to_a_missing_folder_loses_nothing(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Stays")
    token = session_token(signed_in)
    response = signed_in.post(f"/mail/INBOX/{uid}/move", data={"csrf_token": token, "to": "Nowhere"})
    assert response.status_code == 409
    assert "There is no folder called “Nowhere”" in response.text
    assert subjects(imap, "INBOX") == ["Stays"]


def test_actions_need_the_csrf_token(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Protected")
    assert signed_in.post(f"/mail/INBOX/{uid}/delete").status_code == 403
    assert subjects(imap, "INBOX") == ["Protected"]


def test_bulk_actions_on_selected_and_on_all(signed_in: TestClient, imap: IMAPClient) -> None:
    uids = [put(imap, f"Bulk {i}") for i in range(5)]
    token = session_token(signed_in)
    page = signed_in.get("/mail/INBOX").text
    assert page.count('form="bulk-form"') == 5
    response = signed_in.post(
        "/mail/INBOX/bulk", data={"csrf_token": token, "action": "read", "uid": [str(u) for u in uids[:2]]}
    )
    assert response.status_code == 303
    imap.select_folder("INBOX")
    flags = imap.get_flags(uids)
    assert [b"\\Seen" in flags[u] for u in uids] == [True, True, False, False, False]
    moved = signed_in.post(
        "/mail/INBOX/bulk",
        data={"csrf_token": token, "action": "archive", "uid": [str(u) for u in uids[2:4]]},
    )
    assert subjects(imap, "Archive") == ["Bulk 2", "Bulk 3"]
    page = signed_in.get(moved.headers["location"]).text
    assert "2 messages moved to Archive." in page
    undo = re.search(r'name="uids" value="([^"]+)"', page)
    assert undo
    signed_in.post("/mail/Archive/undo", data={"csrf_token": token, "uids": undo.group(1), "to": "INBOX"})
    assert len(subjects(imap, "INBOX")) == 5
    signed_in.post("/mail/INBOX/bulk", data={"csrf_token": token, "action": "delete", "all": "1"})
    assert subjects(imap, "INBOX") == []
    assert len(subjects(imap, "Trash")) == 5


def test_not_junk_goes_back_to_the_inbox(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Wrongly junked", folder="Junk")
    page = signed_in.get(f"/mail/Junk/{uid}").text
    assert f'action="/mail/Junk/{uid}/not-junk"' in page
    token = session_token(signed_in)
    assert signed_in.post(f"/mail/Junk/{uid}/not-junk", data={"csrf_token": token}).status_code == 303
    assert subjects(imap, "INBOX") == ["Wrongly junked"]
    imap.select_folder("INBOX")
    [new] = imap.search(["ALL"])
    assert b"$NotJunk" in imap.get_flags([new])[new]


def test_archiving_inside_the_archive_is_refused_from_the_reader_and_the_list(
    signed_in: TestClient, imap: IMAPClient
) -> None:
    imap.create_folder("Archive/2024")
    top, deep = put(imap, "Filed", "Archive"), put(imap, "Deeper", "Archive/2024")
    token = session_token(signed_in)
    reader = signed_in.post(f"/mail/Archive/{top}/archive", data={"csrf_token": token})
    assert reader.headers["location"] == f"/mail/Archive/{top}"  # still there: back to it
    assert flash_after(signed_in, reader) == "This message is in Archive already; nothing was moved."
    listed = signed_in.post(
        "/mail/Archive/2024/bulk", data={"csrf_token": token, "action": "archive", "uid": str(deep)}
    )
    assert listed.headers["location"] == "/mail/Archive/2024"
    assert flash_after(signed_in, listed) == "This message is in Archive already; nothing was moved."
    assert subjects(imap, "Archive") == ["Filed"]
    assert subjects(imap, "Archive/2024") == ["Deeper"]


def test_bad_input_is_a_form_error_naming_the_field(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Untouched")
    token = session_token(signed_in)
    posts = [
        (f"/mail/INBOX/{uid}/move", {"to": ""}, "to"),
        ("/mail/INBOX/bulk", {"action": "move", "uid": str(uid)}, "to"),
        ("/mail/INBOX/bulk", {"action": "explode", "uid": str(uid)}, "action"),
        ("/mail/INBOX/bulk", {"action": "delete", "uid": ["1", "1 OR ALL"]}, "uid"),
        ("/mail/Trash/undo", {"uids": "1:x", "to": "INBOX"}, "uids"),
        ("/mail/Trash/undo", {"uids": "1:4000000000", "to": "INBOX"}, "uids"),
        ("/mail/Trash/undo", {"uids": "", "to": "INBOX"}, "uids"),
        ("/mail/Trash/undo", {"uids": "1", "to": ""}, "to"),
        ("/mail/Trash/undo", {"uids": "1", "to": "INBOX", "more": "2"}, "more"),
    ]
    for path, fields, field in posts:
        response = signed_in.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == 422, (path, fields)
        assert f'data-field="{field}"' in response.text
        assert "moved or deleted" not in response.text
    assert subjects(imap, "INBOX") == ["Untouched"]
