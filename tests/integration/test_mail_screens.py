"""What the mail screens show and act on (issue 14): previews, selection that means what it says,
conversations kept apart when only their subjects agree."""

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


def put(imap: IMAPClient, subject: str, body: str = "body", headers: str = "", folder: str = "INBOX") -> int:
    raw = f"From: Ann Lee <ann@example.org>\r\nSubject: {subject}\r\n{headers}\r\n{body}\r\n".encode()
    return int(re.search(rb"APPENDUID \d+ (\d+)", imap.append(folder, raw)).group(1))  # type: ignore[union-attr]


def keywords(imap: IMAPClient, folder: str = "INBOX") -> dict[int, set[bytes]]:
    imap.select_folder(folder)
    return {uid: set(flags) for uid, flags in imap.get_flags(imap.search(["ALL"])).items()}


def row_of(html: str, uid: int) -> str:
    return html.split(f'data-uid="{uid}"', 1)[1].split("</li>", 1)[0]


def test_rows_show_a_preview_and_no_byte_size(signed_in: TestClient, imap: IMAPClient) -> None:
    quoted = "> an old line from before\r\n"
    uid = put(imap, "Plans", body=f"Shall we meet at noon on Friday?\r\n{quoted}-- \r\nAnn")
    html = signed_in.get("/mail/INBOX").text
    row = row_of(html, uid)
    assert '<span class="preview">Shall we meet at noon on Friday?' in row
    assert "an old line" not in row
    assert not re.search(r"\d+ (B|KB|MB)\b", row)  # the size stays a sort option and in the reader
    assert '<span class="avatar hue-' in row
    assert ">AL</span>" in row


def test_a_preview_without_the_servers_preview(signed_in: TestClient, imap: IMAPClient) -> None:
    from webmail.imap import messages

    uid = put(
        imap,
        "Encoded",
        body="SGVsbG8gZnJvbSBiYXNlNjQ=",
        headers="MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n",
    )
    imap.select_folder("INBOX")
    rows = messages.fetch_uids(imap, [uid], messages.SUMMARY_ITEMS)  # as a server without PREVIEW answers
    assert b"PREVIEW" not in rows[uid]
    messages.add_previews(imap, rows)
    assert messages.summary_from_fetch(uid, rows[uid]).preview == "Hello from base64"


def test_select_all_under_a_search_acts_on_exactly_the_results(
    signed_in: TestClient, imap: IMAPClient
) -> None:
    hits = [put(imap, f"Invoice {i}") for i in range(3)]
    others = [put(imap, f"Holiday {i}") for i in range(4)]
    page = signed_in.get("/mail/INBOX?q=invoice").text
    assert "Select all 3 results" not in page  # all of them are on this page: the page's box does it
    form = page.split('id="bulk-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="q" value="invoice"' in form
    upto = re.search(r'name="upto" value="(\d+)"', form)
    assert upto
    assert int(upto.group(1)) == max(others)
    token = session_token(signed_in)
    fields = {"csrf_token": token, "action": "tag:$label1", "all": "1", "q": "invoice", "scope": "",
              "next": "/mail/INBOX?q=invoice", "upto": upto.group(1)}  # fmt: skip
    later = put(imap, "Invoice arriving after the page")
    response = signed_in.post("/mail/INBOX/bulk", data=fields)
    assert response.headers["location"] == "/mail/INBOX?q=invoice"  # back to the same search
    assert "3 messages tagged Important" in flash_after(signed_in, response)
    tagged = {uid for uid, flags in keywords(imap).items() if b"$label1" in flags}
    assert tagged == set(hits)  # not the other four, not the one the page never showed
    assert later not in tagged


def test_select_all_in_a_folder_says_how_many_before_moving_more_than_a_page(
    signed_in: TestClient, imap: IMAPClient
) -> None:
    token = session_token(signed_in)
    signed_in.post("/settings", data={"csrf_token": token, "page_size": "20", "mark_seen": "immediately",
                                      "mark_seen_delay_seconds": "5"})  # fmt: skip
    uids = [put(imap, f"Bulk {i}") for i in range(25)]
    page = signed_in.get("/mail/INBOX").text
    assert "Select all 25 in this folder" in page
    fields = {"csrf_token": token, "action": "delete", "all": "1", "next": "/mail/INBOX"}
    question = signed_in.post("/mail/INBOX/bulk", data=fields)
    assert question.status_code == 200
    assert "Move 25 messages to Trash?" in question.text
    assert len(keywords(imap)) == 25  # nothing moved yet
    repost = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', question.text))
    assert repost["uid"] == ",".join(str(uid) for uid in uids)
    done = signed_in.post("/mail/INBOX/bulk", data=repost)
    assert "25 messages moved to Trash." in flash_after(signed_in, done)
    assert keywords(imap) == {}


def test_a_conversations_box_acts_on_all_its_messages(signed_in: TestClient, imap: IMAPClient) -> None:
    first = put(imap, "Trip", headers="Message-ID: <t1@x>\r\n")
    second = put(
        imap, "Re: Trip", headers="Message-ID: <t2@x>\r\nIn-Reply-To: <t1@x>\r\nReferences: <t1@x>\r\n"
    )
    token = session_token(signed_in)
    response = signed_in.post(
        "/mail/INBOX/bulk", data={"csrf_token": token, "action": "archive", "uid": f"{first},{second}"}
    )
    assert "2 messages moved to Archive." in flash_after(signed_in, response)


def test_two_unrelated_re_lunch_threads_stay_apart(signed_in: TestClient, imap: IMAPClient) -> None:
    march = "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
    november = "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
    a1 = put(imap, "Lunch", headers=f"Message-ID: <a1@x>\r\n{march}")
    a2 = put(
        imap,
        "Re: Lunch",
        headers=f"Message-ID: <a2@x>\r\nIn-Reply-To: <a1@x>\r\nReferences: <a1@x>\r\n{march}",
    )
    b1 = put(
        imap,
        "Re: Lunch",
        headers=f"Message-ID: <b1@x>\r\nIn-Reply-To: <elsewhere@x>\r\nReferences: <elsewhere@x>\r\n{november}",
    )
    b2 = put(
        imap,
        "Re: Lunch",
        headers=f"Message-ID: <b2@x>\r\nIn-Reply-To: <elsewhere@x>\r\nReferences: <elsewhere@x>\r\n{november}",
    )
    # Without any reference headers, the same subject a day apart is one conversation.
    c1 = put(imap, "Hello", headers=f"Message-ID: <c1@x>\r\n{november}")
    c2 = put(imap, "Re: Hello", headers="Message-ID: <c2@x>\r\nDate: Tue, 3 Nov 2026 09:00:00 +0000\r\n")
    far = put(imap, "Hello", headers="Message-ID: <c3@x>\r\nDate: Mon, 4 May 2026 10:00:00 +0000\r\n")
    html = signed_in.get("/mail/INBOX?view=threads").text
    groups = sorted(
        sorted(int(uid) for uid in found.split(",")) for found in re.findall(r'data-uids="([\d,]+)"', html)
    )
    assert groups == sorted([[a1, a2], [b1, b2], [c1, c2], [far]])
    reader = signed_in.get(f"/mail/INBOX/{b2}?view=threads").text
    stack = reader.split('class="thread-stack"', 1)[1].split("</ol>", 1)[0]
    assert sorted(
        int(uid) for uid in re.findall(r'class="thread-item[^"]*"[^>]*data-uid="(\d+)"', stack)
    ) == [b1, b2]


def test_theme_and_density_settings(signed_in: TestClient) -> None:
    assert '<html lang="en" data-theme="system">' in signed_in.get("/mail/INBOX").text
    settings = signed_in.get("/settings").text
    assert 'name="theme" value="dark"' in settings
    token = session_token(signed_in)
    saved = signed_in.post("/settings", data={"csrf_token": token, "page_size": "50", "mark_seen": "immediately",
                                              "mark_seen_delay_seconds": "5", "theme": "dark", "density": "compact"})  # fmt: skip
    assert saved.cookies.get("wm_theme") == "dark"  # for pages without the preferences, such as sign-in
    page = signed_in.get("/mail/INBOX").text
    assert '<html lang="en" data-theme="dark">' in page
    assert 'class="shell density-compact' in page
    assert 'data-swipe="off"' in page  # the box was not ticked
    assert '<html lang="en" data-theme="dark">' in signed_in.get("/contacts").text
