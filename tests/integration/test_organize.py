"""Moving, archiving, deleting and undoing from the reader, against Dovecot."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser, flash_after, session_token

pytestmark = pytest.mark.both_servers


@pytest.fixture
def imap(imap_server: IMAPServer, mail_user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    yield client
    client.logout()


def made(imap: IMAPClient, folder: str) -> str:
    """``folder``, created first if missing (Archive and Junk are, on the courier server)."""
    if not imap.folder_exists(folder):
        imap.create_folder(folder)
    return folder


def put(imap: IMAPClient, subject: str, folder: str = "INBOX") -> int:
    """Append a message to ``folder`` (made first if missing)."""
    response = imap.append(
        made(imap, folder),
        f"From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@x>\r\n\r\nbody\r\n".encode(),
    )
    return int(re.search(rb"APPENDUID \d+ (\d+)", response).group(1))  # type: ignore[union-attr]


def subjects(imap: IMAPClient, folder: str) -> list[str]:
    imap.select_folder(folder)
    uids = imap.search(["ALL"])
    data = imap.fetch(uids, ["ENVELOPE"]) if uids else {}
    return sorted(row[b"ENVELOPE"].subject.decode() for row in data.values())


def test_delete_moves_to_trash_and_undo_brings_it_back(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    trash = imap_server.folder("Trash")
    uid = put(imap, "Doomed")
    token = session_token(signed_in)
    response = signed_in.post(f"/mail/INBOX/{uid}/delete", data={"csrf_token": token})
    assert response.status_code == 303
    assert subjects(imap, trash) == ["Doomed"]
    assert subjects(imap, "INBOX") == []
    page = signed_in.get(response.headers["location"]).text
    assert "Moved to Trash." in page
    undo = re.search(
        rf'action="(/mail/{re.escape(trash)}/undo)".*?name="uids" value="([^"]+)".*?name="to" value="([^"]+)"',
        page,
        re.S,
    )
    assert undo
    back = signed_in.post(
        undo.group(1), data={"csrf_token": token, "uids": undo.group(2), "to": undo.group(3)}
    )
    assert back.status_code == 303
    assert subjects(imap, "INBOX") == ["Doomed"]
    assert subjects(imap, trash) == []


def test_archive_junk_and_move(signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer) -> None:
    token = session_token(signed_in)
    a, b, c = put(imap, "Keep"), put(imap, "Spammy"), put(imap, "Project")
    projects = imap_server.folder("Projects")
    imap.create_folder(projects)
    assert signed_in.post(f"/mail/INBOX/{a}/archive", data={"csrf_token": token}).status_code == 303
    assert signed_in.post(f"/mail/INBOX/{b}/junk", data={"csrf_token": token}).status_code == 303
    assert (
        signed_in.post(f"/mail/INBOX/{c}/move", data={"csrf_token": token, "to": projects}).status_code == 303
    )
    assert subjects(imap, imap_server.folder("Archive")) == ["Keep"]
    assert subjects(imap, imap_server.folder("Junk")) == ["Spammy"]
    assert subjects(imap, projects) == ["Project"]
    imap.select_folder(imap_server.folder("Junk"))
    assert b"$Junk" in imap.get_flags(imap.search(["ALL"]))[imap.search(["ALL"])[0]]


def test_delete_in_trash_asks_then_deletes_for_good(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    trash = imap_server.folder("Trash")
    uid = put(imap, "Old", folder=trash)
    token = session_token(signed_in)
    ask = signed_in.post(f"/mail/{trash}/{uid}/delete", data={"csrf_token": token})
    assert ask.status_code == 200
    assert "Delete this message for good?" in ask.text
    assert subjects(imap, trash) == ["Old"]
    done = signed_in.post(f"/mail/{trash}/{uid}/delete", data={"csrf_token": token, "confirm": "1"})
    assert done.status_code == 303
    assert subjects(imap, trash) == []


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


def test_bulk_actions_on_selected_and_on_all(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    archive, trash = imap_server.folder("Archive"), imap_server.folder("Trash")
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
    assert subjects(imap, archive) == ["Bulk 2", "Bulk 3"]
    page = signed_in.get(moved.headers["location"]).text
    assert "2 messages moved to Archive." in page
    undo = re.search(r'name="uids" value="([^"]+)"', page)
    assert undo
    signed_in.post(f"/mail/{archive}/undo", data={"csrf_token": token, "uids": undo.group(1), "to": "INBOX"})
    assert len(subjects(imap, "INBOX")) == 5
    signed_in.post("/mail/INBOX/bulk", data={"csrf_token": token, "action": "delete", "all": "1"})
    assert subjects(imap, "INBOX") == []
    assert len(subjects(imap, trash)) == 5


def test_not_junk_goes_back_to_the_inbox(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    junk = imap_server.folder("Junk")
    uid = put(imap, "Wrongly junked", folder=junk)
    page = signed_in.get(f"/mail/{junk}/{uid}").text
    assert f'action="/mail/{junk}/{uid}/not-junk"' in page
    token = session_token(signed_in)
    assert signed_in.post(f"/mail/{junk}/{uid}/not-junk", data={"csrf_token": token}).status_code == 303
    assert subjects(imap, "INBOX") == ["Wrongly junked"]
    imap.select_folder("INBOX")
    [new] = imap.search(["ALL"])
    assert b"$NotJunk" in imap.get_flags([new])[new]


def test_archiving_inside_the_archive_is_refused_from_the_reader_and_the_list(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    archive, year = imap_server.folder("Archive"), imap_server.folder("Archive/2024")
    top = put(imap, "Filed", archive)
    imap.create_folder(year)
    deep = put(imap, "Deeper", year)
    token = session_token(signed_in)
    reader = signed_in.post(f"/mail/{archive}/{top}/archive", data={"csrf_token": token})
    assert reader.headers["location"] == f"/mail/{archive}/{top}"  # still there: back to it
    assert flash_after(signed_in, reader) == "This message is in Archive already; nothing was moved."
    listed = signed_in.post(
        f"/mail/{year}/bulk", data={"csrf_token": token, "action": "archive", "uid": str(deep)}
    )
    assert listed.headers["location"] == f"/mail/{year}"
    assert flash_after(signed_in, listed) == "This message is in Archive already; nothing was moved."
    assert subjects(imap, archive) == ["Filed"]
    assert subjects(imap, year) == ["Deeper"]


def test_bad_input_is_a_form_error_naming_the_field(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    uid = put(imap, "Untouched")
    token = session_token(signed_in)
    trash = imap_server.folder("Trash")
    posts = [
        (f"/mail/INBOX/{uid}/move", {"to": ""}, "to"),
        ("/mail/INBOX/bulk", {"action": "move", "uid": str(uid)}, "to"),
        ("/mail/INBOX/bulk", {"action": "explode", "uid": str(uid)}, "action"),
        ("/mail/INBOX/bulk", {"action": "delete", "uid": ["1", "1 OR ALL"]}, "uid"),
        (f"/mail/{trash}/undo", {"uids": "1:x", "to": "INBOX"}, "uids"),
        (f"/mail/{trash}/undo", {"uids": "1:4000000000", "to": "INBOX"}, "uids"),
        (f"/mail/{trash}/undo", {"uids": "", "to": "INBOX"}, "uids"),
        (f"/mail/{trash}/undo", {"uids": "1", "to": ""}, "to"),
        (f"/mail/{trash}/undo", {"uids": "1", "to": "INBOX", "more": "2"}, "more"),
    ]
    for path, fields, field in posts:
        response = signed_in.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == 422, (path, fields)
        assert f'data-field="{field}"' in response.text
        assert "moved or deleted" not in response.text
    assert subjects(imap, "INBOX") == ["Untouched"]
