"""Export (mboxrd, zip of .eml) and import (mbox, .eml, zip) against the suite's Dovecot."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis

from tests.conftest import MailUser, session_token
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.events import ExportProgress, ImportProgress, decode
from webmail.redis import Keys

pytestmark = pytest.mark.integration


@pytest.fixture
def mailbox(services: DevServices, mail_user: MailUser) -> Iterator[IMAPClient]:
    """The test user's mailbox over IMAP, to fill and to check."""
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.normalise_times = False
    yield imap
    imap.logout()


def message(i: int, *, body: bytes | None = None, message_id: bool = True) -> bytes:
    when = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i, minutes=i)
    head = f"From: Sender {i} <s{i}@example.org>\r\nTo: you@example.test\r\nSubject: Message {i}\r\n"
    head += f"Date: {format_datetime(when)}\r\n"
    if message_id:
        head += f"Message-ID: <m{i}.rt@example.org>\r\n"
    text = (
        body
        if body is not None
        else (f"Body {i}\r\nFrom the start of a line\r\n>From quoted\r\n" * 3).encode()
    )
    return head.encode() + b"\r\n" + text


def fill(client: IMAPClient, folder: str, raws: list[bytes], flags: list[list[bytes]] | None = None) -> None:
    for index, raw in enumerate(raws):
        when = datetime(2021, 3, 1, 12, 0, tzinfo=UTC) + timedelta(hours=index)
        client.append(folder, raw, flags=flags[index] if flags else [], msg_time=when)


def folder_contents(client: IMAPClient, folder: str) -> list[tuple[bytes, datetime, frozenset[bytes]]]:
    client.select_folder(folder, readonly=True)
    rows = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])
    return [
        (rows[uid][b"BODY[]"], rows[uid][b"INTERNALDATE"], frozenset(rows[uid][b"FLAGS"]) - {b"\\Recent"})
        for uid in sorted(rows)
    ]


def upload(client: TestClient, folder: str, name: str, data: bytes) -> str:
    response = client.post(
        f"/mail/{folder}/import",
        files={"file": (name, data, "application/octet-stream")},
        data={"csrf_token": session_token(client)},
    )
    assert response.status_code == 200, response.text
    return response.text


def counts(page: str) -> dict[str, str]:
    found = re.search(r"<section[^>]*data-import-report([^>]*)>", page, re.S)
    assert found, page
    return dict(re.findall(r'data-(\w+)="([^"]*)"', found.group(1)))


class TestExport:
    def test_mbox_of_a_folder_is_mboxrd_with_flags(self, mailbox: IMAPClient, signed_in: TestClient) -> None:
        fill(mailbox, "INBOX", [message(1), message(2)], [[b"\\Seen", b"\\Flagged"], []])
        response = signed_in.get("/mail/INBOX/export?format=mbox")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/mbox")
        assert response.headers["content-disposition"].startswith('attachment; filename="INBOX.mbox"')
        text = response.content
        separators = re.findall(rb"(?m)^From \S+ .*$", text)
        assert separators == [
            b"From s1@example.org Mon Mar  1 12:00:00 2021",
            b"From s2@example.org Mon Mar  1 13:00:00 2021",
        ]
        assert b"\n>From the start of a line\n>>From quoted\n" in text
        assert b"\r" not in text
        first, second = text.split(b"\nFrom s2@")
        assert b"Status: RO\nX-Status: F\n" in first
        assert b"Status: O\n" in second
        assert b"X-Status" not in second

    def test_zip_holds_each_message_byte_for_byte(self, mailbox: IMAPClient, signed_in: TestClient) -> None:
        raws = [message(i) for i in range(5)]
        fill(mailbox, "INBOX", raws)
        response = signed_in.get("/mail/INBOX/export?format=zip")
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith('attachment; filename="INBOX.zip"')
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        names = archive.namelist()
        assert names[0] == "00001 2021-03-01 Message 0.eml"
        assert [archive.read(name) for name in names] == raws
        assert archive.getinfo(names[0]).date_time == (2021, 3, 1, 12, 0, 0)

    def test_search_hits_and_a_selection(self, mailbox: IMAPClient, signed_in: TestClient) -> None:
        fill(mailbox, "INBOX", [message(i) for i in range(6)])
        hits = signed_in.get("/mail/INBOX/export", params={"format": "mbox", "q": 'subject:"Message 3"'})
        assert re.findall(rb"(?m)^Subject: .*$", hits.content) == [b"Subject: Message 3"]
        assert "INBOX search.mbox" in hits.headers["content-disposition"]
        chosen = signed_in.get("/mail/INBOX/export", params={"format": "zip", "uids": "2,5,99"})
        archive = zipfile.ZipFile(io.BytesIO(chosen.content))
        assert [archive.read(n) for n in archive.namelist()] == [message(1), message(4)]

    def test_unknown_folder_and_format(self, signed_in: TestClient) -> None:
        assert signed_in.get("/mail/Nowhere/export?format=mbox").status_code == 404
        assert signed_in.get("/mail/INBOX/export?format=pst").status_code == 422

    def test_a_large_message_streams_in_pieces(self, mailbox: IMAPClient, signed_in: TestClient) -> None:
        big = message(7, body=b"".join(b"line %07d From here\r\n" % n for n in range(400_000)))  # ~9 MB
        fill(mailbox, "INBOX", [message(6), big, message(8)])
        response = signed_in.get("/mail/INBOX/export?format=zip")
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert [archive.read(n) for n in archive.namelist()] == [message(6), big, message(8)]


class TestImport:
    def test_mbox_round_trip_of_1000_messages(self, mailbox: IMAPClient, signed_in: TestClient) -> None:
        raws = [message(i) for i in range(1000)]
        raws[10] = message(10, body=b"no final line break")
        raws[11] = message(11, body=b"8-bit \xc3\xa9t\xc3\xa9\r\nFrom \r\n\r\nFrom x\r\n")
        flags = [[b"\\Seen"] if i % 2 else [b"\\Answered", b"\\Flagged"] for i in range(1000)]
        flags[12] = [b"$Forwarded", b"\\Seen"]
        fill(mailbox, "INBOX", raws, flags)
        exported = signed_in.get("/mail/INBOX/export?format=mbox").content
        mailbox.create_folder("Restored")
        page = upload(signed_in, "Restored", "INBOX.mbox", exported)
        assert counts(page) | {"stopped": ""} == {
            "imported": "1000", "duplicates": "0", "deleted": "0", "refused": "0", "stopped": "",
        }  # fmt: skip
        original = folder_contents(mailbox, "INBOX")
        restored = folder_contents(mailbox, "Restored")
        assert len(restored) == 1000
        for (raw, when, _), (raw2, when2, flags2), wanted in zip(original, restored, flags, strict=True):
            expected = raw if raw.endswith(b"\r\n") else raw + b"\r\n"  # mbox lines end in a line break
            assert raw2 == expected
            assert when2 == when
            assert flags2 == frozenset(wanted) - {b"$Forwarded"}  # mbox Status letters have no Forwarded
        again = counts(upload(signed_in, "Restored", "INBOX.mbox", exported))
        assert (again["imported"], again["duplicates"]) == ("0", "1000")

    def test_zip_round_trip_and_single_eml(self, mailbox: IMAPClient, signed_in: TestClient) -> None:
        raws = [message(i) for i in range(20)]
        fill(mailbox, "INBOX", raws)
        exported = signed_in.get("/mail/INBOX/export?format=zip").content
        mailbox.create_folder("FromZip")
        assert counts(upload(signed_in, "FromZip", "INBOX.zip", exported))["imported"] == "20"
        assert [raw for raw, _, _ in folder_contents(mailbox, "FromZip")] == raws
        single = message(50).replace(b"\r\n", b"\n")  # a file saved on Unix
        page = upload(signed_in, "FromZip", "one.eml", single)
        assert counts(page)["imported"] == "1"
        contents = folder_contents(mailbox, "FromZip")
        assert contents[-1][0] == message(50)
        assert contents[-1][1] == datetime(2020, 2, 20, 0, 50, tzinfo=UTC)  # from its Date header

    def test_damaged_mbox_keeps_the_good_messages(self, mailbox: IMAPClient, signed_in: TestClient) -> None:
        plain = [message(i, body=f"Body {i}\r\n".encode()) for i in range(3)]
        good = [raw.replace(b"\r\n", b"\n") for raw in plain]
        mbox = (
            b"From a@example.org Sat Jan  4 10:00:00 2020\nX-Mozilla-Status: 0005\n" + good[0] + b"\n"
            + b"From b@example.org Sat Jan  4 11:00:00 2020\n\x01\x02 garbage, no header here\n\n"
            + b"From c@example.org Sat Jan  4 12:00:00 2020\nStatus: RO\n" + good[1] + b"\n"
            + b"From d@example.org Sat Jan  4 13:00:00 2020\nSubject: nul\n\nbad \x00 byte\n\n"
            + b"From e@example.org Sat Jan  4 14:00:00 2020\n" + good[2] + b"\n"
        )  # fmt: skip
        page = upload(signed_in, "INBOX", "broken.mbox", mbox)
        assert counts(page) | {"stopped": ""} == {
            "imported": "3", "duplicates": "0", "deleted": "0", "refused": "2", "stopped": "",
        }  # fmt: skip
        assert "message 2 of the mbox file" in page
        assert "message 4 of the mbox file" in page
        contents = folder_contents(mailbox, "INBOX")
        assert [raw for raw, _, _ in contents] == plain
        assert contents[0][1] == datetime(2020, 1, 4, 10, 0, tzinfo=UTC)  # from the separator line
        assert contents[0][2] == frozenset({b"\\Seen", b"\\Flagged"})  # X-Mozilla-Status read, flagged
        assert contents[1][2] == frozenset({b"\\Seen"})

    def test_import_page_and_missing_folder(self, signed_in: TestClient) -> None:
        page = signed_in.get("/mail/INBOX/import")
        assert page.status_code == 200
        assert 'enctype="multipart/form-data"' in page.text
        assert 'name="file"' in page.text
        response = signed_in.post(
            "/mail/Nowhere/import",
            files={"file": ("x.eml", message(1), "message/rfc822")},
            data={"csrf_token": session_token(signed_in)},
        )
        assert response.status_code == 404

    def test_import_needs_the_csrf_token(self, signed_in: TestClient) -> None:
        response = signed_in.post(
            "/mail/INBOX/import", files={"file": ("x.eml", message(1), "message/rfc822")}
        )
        assert response.status_code == 403


class TestExportFromTheList:
    def test_selection_bar_export_redirects_without_the_token(
        self, mailbox: IMAPClient, signed_in: TestClient
    ) -> None:
        fill(mailbox, "INBOX", [message(i) for i in range(3)])
        token = session_token(signed_in)
        response = signed_in.post(
            "/mail/INBOX/bulk", data={"csrf_token": token, "action": "export:zip", "uid": ["1", "3"]}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/mail/INBOX/export?format=zip&uids=1%2C3"
        everything = signed_in.post(
            "/mail/INBOX/bulk",
            data={"csrf_token": token, "action": "export:mbox", "all": "1", "q": "Message"},
        )
        assert everything.headers["location"] == "/mail/INBOX/export?format=mbox&q=Message"
        archive = zipfile.ZipFile(io.BytesIO(signed_in.get(response.headers["location"]).content))
        assert [archive.read(n) for n in archive.namelist()] == [message(0), message(2)]

    def test_the_list_and_the_folders_page_link_to_export_and_import(
        self, mailbox: IMAPClient, signed_in: TestClient
    ) -> None:
        fill(mailbox, "INBOX", [message(1)])
        page = signed_in.get("/mail/INBOX").text
        assert 'href="/mail/INBOX/export?format=mbox"' in page
        assert 'href="/mail/INBOX/import"' in page
        assert 'value="export:zip"' in page
        searched = signed_in.get("/mail/INBOX?q=Message").text
        assert 'href="/mail/INBOX/export?q=Message&amp;format=mbox"' in searched
        folders = signed_in.get("/settings/folders").text
        assert 'href="/mail/Archive/export?format=mbox"' in folders

    def test_progress_of_a_selection_export_reaches_the_users_events(
        self, mailbox: IMAPClient, signed_in: TestClient, settings: Settings, mail_user: MailUser
    ) -> None:
        fill(mailbox, "INBOX", [message(i) for i in range(5)])
        response = signed_in.post(
            "/mail/INBOX/bulk",
            data={"csrf_token": session_token(signed_in), "action": "export:mbox",
                  "uid": ["1", "2", "4"], "progress": "page1234abcd"},
        )  # fmt: skip
        assert (
            response.headers["location"]
            == "/mail/INBOX/export?format=mbox&progress=page1234abcd&uids=1%2C2%2C4"
        )
        redis = Redis.from_url(settings.redis_url)
        listener = redis.pubsub(ignore_subscribe_messages=True)
        listener.subscribe(Keys(settings.redis_prefix).events_channel(mail_user.username))
        try:
            assert listener.get_message(timeout=1) is None  # subscribed
            assert signed_in.get(response.headers["location"]).content.count(b"\nFrom ") == 2
            heard = []
            while (found := listener.get_message(timeout=1)) is not None:
                heard.append(decode(found["data"]))
        finally:
            listener.close()
            redis.close()
        assert heard[0] == ExportProgress("page1234abcd", 0, 3, "running")
        assert heard[-1] == ExportProgress("page1234abcd", 3, 3, "done")
        assert [e.done for e in heard if isinstance(e, ExportProgress)] == [0, 1, 2, 3]
        # An id that is not one is ignored: the download is the same, nothing is published.
        assert signed_in.get("/mail/INBOX/export?format=mbox&progress=../x").status_code == 200

    def test_progress_of_an_import_reaches_the_users_events(
        self, signed_in: TestClient, settings: Settings, mail_user: MailUser
    ) -> None:
        page = signed_in.get("/mail/INBOX/import").text
        progress = re.search(r'name="progress" value="([0-9a-f]{16})"', page)
        assert progress, page
        mbox = b"".join(
            b"From s@example.org Sat Jan  4 10:00:00 2020\n" + message(i).replace(b"\r\n", b"\n") + b"\n"
            for i in range(120)
        )
        redis = Redis.from_url(settings.redis_url)
        listener = redis.pubsub(ignore_subscribe_messages=True)
        listener.subscribe(Keys(settings.redis_prefix).events_channel(mail_user.username))
        try:
            assert listener.get_message(timeout=1) is None  # subscribed
            response = signed_in.post(
                "/mail/INBOX/import",
                files={"file": ("many.mbox", mbox, "application/mbox")},
                data={"csrf_token": session_token(signed_in), "progress": progress.group(1)},
            )
            assert counts(response.text)["imported"] == "120"
            heard = []
            while (found := listener.get_message(timeout=1)) is not None:
                heard.append(decode(found["data"]))
        finally:
            listener.close()
            redis.close()
        mine = [e for e in heard if isinstance(e, ImportProgress) and e.id == progress.group(1)]
        assert [(e.done, e.imported) for e in mine] == [(50, 50), (100, 100), (120, 120)]
