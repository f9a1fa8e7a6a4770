"""Search against a seeded Dovecot mailbox with known answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import MailUser
from webmail.devservices import DevServices
from webmail.imap import metrics

NOW = datetime.now(UTC)


def message(
    subject: str, sender: str, to: str, body: str, *, days_ago: int = 1, pad: int = 0, attach: bool = False
) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = (NOW - timedelta(days=days_ago)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg.set_content(body + "\n" + "x" * pad)
    if attach:
        msg.add_attachment(b"%PDF-1.4 tiny", "application", "pdf", filename="a.pdf")
    return bytes(msg)


MAILBOX = {
    "invoice": (message("Invoice 2026-17", "Anna Berg <anna@example.org>", "me@example.test", "Please pay soon", days_ago=2, attach=True), ()),
    "meeting": (message("Meeting notes", "Bob <bob@example.org>", "team@example.test", "The invoice was discussed", days_ago=40), (b"\\Seen", b"\\Flagged")),
    "gruss": (message("Grüße aus Köln", "Jürgen <j@example.de>", "me@example.test", "Schöne Grüße, 日本 und 🎉", days_ago=400), (b"\\Seen",)),
    "big": (message("Big report", "Anna Berg <anna@example.org>", "me@example.test", "numbers", days_ago=10, pad=200_000), (b"\\Seen", b"\\Answered")),
    "quote": (message('He said "hi" \\ (yes)', "carl@example.org", "me@example.test", "quotes", days_ago=5), (b"\\Seen",)),
}  # fmt: skip


@pytest.fixture
def seeded(services: DevServices, mail_user: MailUser) -> dict[str, int]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    uids = {}
    for name, (raw, flags) in MAILBOX.items():
        response = client.append("INBOX", raw, flags=flags)
        uids[name] = int(re.search(rb"APPENDUID \d+ (\d+)", response).group(1))  # type: ignore[union-attr]
    client.append(
        "Archive", message("Archived invoice", "old@example.org", "me@example.test", "old", days_ago=900)
    )
    client.logout()
    return uids


def found(client: TestClient, q: str, folder: str = "INBOX", extra: str = "") -> set[int]:
    response = client.get(f"/mail/{folder}?q={quote(q)}{extra}")
    assert response.status_code == 200, response.text[:500]
    assert "Not understood" not in response.text, q
    return {int(uid) for uid in re.findall(r'<li class="[^"]*"\s+data-uid="(\d+)"', response.text)}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("invoice", {"invoice", "meeting"}),  # subject of one, body of the other
        ("from:anna", {"invoice", "big"}),
        ("to:team@example.test", {"meeting"}),
        ("subject:meeting", {"meeting"}),
        ("body:discussed", {"meeting"}),
        ("has:attachment", {"invoice"}),
        ("is:unread", {"invoice"}),
        ("is:read", {"meeting", "gruss", "big", "quote"}),
        ("is:flagged", {"meeting"}),
        ("is:answered", {"big"}),
        ("larger:100K", {"big"}),
        ("smaller:100K", {"invoice", "meeting", "gruss", "quote"}),
        ("newer_than:7d", {"invoice", "quote"}),
        ("older_than:30d", {"meeting", "gruss"}),
        (f"after:{(NOW - timedelta(days=15)).date().isoformat()}", {"invoice", "big", "quote"}),
        (f"before:{(NOW - timedelta(days=15)).date().isoformat()}", {"meeting", "gruss"}),
        ('"meeting notes"', {"meeting"}),
        ("from:anna -subject:big", {"invoice"}),
        ("subject:meeting OR subject:report", {"meeting", "big"}),
        ("from:anna is:unread", {"invoice"}),
    ],
)
def test_operators(signed_in: TestClient, seeded: dict[str, int], q: str, expected: set[str]) -> None:
    assert found(signed_in, q) == {seeded[name] for name in expected}


@pytest.mark.parametrize("q", ["Grüße", "subject:köln", "日本", "🎉", "from:jürgen"])
def test_utf8_queries(signed_in: TestClient, seeded: dict[str, int], q: str) -> None:
    assert found(signed_in, q) == {seeded["gruss"]}


@pytest.mark.parametrize(
    "q",
    [
        '") OR ALL ("',
        "x\r\nA1 LOGOUT",
        "\\",
        '"\\" OR ALL',
        "{5}\r\nhello",
        "subject:(ALL)",
        "%00 NUL\x00byte",
        'ü\\"ß',
    ],
)
def test_injection_attempts_find_nothing_extra(signed_in: TestClient, seeded: dict[str, int], q: str) -> None:
    # Searched as text: only the message whose subject really holds quotes, backslashes or
    # parentheses may match; the rest never does. A query the parser rejects says so.
    response = signed_in.get(f"/mail/INBOX?q={quote(q)}")
    assert response.status_code == 200
    hits = {int(uid) for uid in re.findall(r'<li class="[^"]*"\s+data-uid="(\d+)"', response.text)}
    assert hits <= {seeded["quote"]}
    assert signed_in.get("/mail/INBOX").status_code == 200  # the connection is still in step


def test_quotes_and_backslashes_are_searched_literally(signed_in: TestClient, seeded: dict[str, int]) -> None:
    assert found(signed_in, 'subject:"\\"hi\\""') in (set(), {seeded["quote"]})
    assert found(signed_in, "subject:(yes)") == {seeded["quote"]}


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("colour:red", "“colour:” is not a search operator."),
        ("is:important", "“is:important” is not known"),
        ("before:yesterday", "dates are written YYYY-MM-DD"),
        ("larger:huge", "use a size such as 5M"),
        ("older_than:3x", "use a number and d, w, m or y"),
        ('"open quote', "A quotation mark is not closed."),
        ("OR invoice", "“OR” needs a search term on each side."),
        ("from:", "needs a value after the colon"),
    ],
)
def test_parse_errors_say_what_was_not_understood(
    signed_in: TestClient, seeded: dict[str, int], q: str, message: str
) -> None:
    response = signed_in.get(f"/mail/INBOX?q={quote(q)}")
    assert response.status_code == 200
    assert "Not understood" in response.text
    assert message in response.text
    assert (
        "data-uid=" not in response.text.split('class="messages"')[-1]
        or 'class="messages"' not in response.text
    )


def test_scope_narrows_plain_words(signed_in: TestClient, seeded: dict[str, int]) -> None:
    assert found(signed_in, "invoice", extra="&scope=subject") == {seeded["invoice"]}
    assert found(signed_in, "invoice", extra="&scope=body") == {seeded["meeting"]}


def test_in_operator_searches_another_folder(signed_in: TestClient, seeded: dict[str, int]) -> None:
    response = signed_in.get(f"/mail/INBOX?q={quote('in:Archive invoice')}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/mail/Archive?")
    page = signed_in.get(response.headers["location"]).text
    assert "Archived <mark>invoice</mark>" in page


def test_highlight_and_bookmarkable_paging(
    signed_in: TestClient, seeded: dict[str, int], services: DevServices, mail_user: MailUser
) -> None:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    for i in range(30):
        client.append("INBOX", message(f"Paging needle {i:02d}", "p@example.org", "me@example.test", "b"))
    client.logout()
    signed_in.post("/settings", data={"csrf_token": re.search(r'"X-CSRF-Token": "([^"]+)"', signed_in.get("/mail/INBOX").text).group(1),  # type: ignore[union-attr]
                                      "page_size": "20", "mark_seen": "immediately", "mark_seen_delay_seconds": "5"})  # fmt: skip
    first = signed_in.get("/mail/INBOX?q=needle").text
    assert "30 results for “needle”" in first
    assert "Paging <mark>needle</mark> 29" in first
    assert 'href="/mail/INBOX?q=needle&amp;page=2"' in first
    hits_before = metrics.CACHE_HITS.labels(kind="search")._value.get()
    second = signed_in.get("/mail/INBOX?q=needle&page=2").text
    assert metrics.CACHE_HITS.labels(kind="search")._value.get() == hits_before + 1  # no second SEARCH
    assert len(re.findall(r"data-uid=", second)) == 10
    assert "21–30 of 30" in second


def test_results_follow_changes(
    signed_in: TestClient, seeded: dict[str, int], services: DevServices, mail_user: MailUser
) -> None:
    assert found(signed_in, "is:unread") == {seeded["invoice"]}
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    client.select_folder("INBOX")
    client.remove_flags([seeded["quote"]], [b"\\Seen"])
    client.logout()
    assert found(signed_in, "is:unread") == {seeded["invoice"], seeded["quote"]}


def test_opened_message_highlights_the_words(signed_in: TestClient, seeded: dict[str, int]) -> None:
    plain = signed_in.get(f"/mail/INBOX/{seeded['meeting']}?q=invoice").text
    assert "The <mark>invoice</mark> was discussed" in plain
    assert (
        "<mark>"
        not in signed_in.get(f"/mail/INBOX/{seeded['meeting']}").text.split('class="mail-body-inline"')[1]
    )


def test_saved_search_is_a_virtual_folder_with_unread_count(
    signed_in: TestClient, seeded: dict[str, int]
) -> None:
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', signed_in.get("/mail/INBOX").text).group(1)  # type: ignore[union-attr]
    response = signed_in.post(
        "/searches", data={"csrf_token": token, "q": "from:anna", "folder": "INBOX", "name": "From Anna"}
    )
    assert response.status_code == 303
    page = signed_in.get("/mail/Sent").text
    saved = page.split('class="saved-searches"')[1].split("</nav>")[0]
    assert "From Anna" in saved
    assert 'title="1 unread"' in saved  # the invoice; the big report is read
    link = re.search(r'href="(/mail/INBOX\?q=[^"]+)"', saved)
    assert link
    assert found(signed_in, "from:anna") == {seeded["invoice"], seeded["big"]}
    delete = re.search(r'action="(/searches/\d+/delete)"', saved)
    assert delete
    assert signed_in.post(delete.group(1), data={"csrf_token": token}).status_code == 303
    assert 'class="saved-searches"' not in signed_in.get("/mail/Sent").text


def test_html_body_highlight_stays_outside_tags(
    signed_in: TestClient, services: DevServices, mail_user: MailUser
) -> None:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "h@example.org", "html needle"
    msg.set_content(
        '<p title="needle">A needle &amp; <a href="https://example.org/needle">needle link</a></p>',
        subtype="html",
    )
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", client.append("INBOX", bytes(msg))).group(1))  # type: ignore[union-attr]
    client.logout()
    body = signed_in.get(f"/mail/INBOX/{uid}/body?q=needle").text
    assert "A <mark>needle</mark> &amp;" in body
    assert 'href="https://example.org/needle"' in body
    assert "<mark>needle</mark> link" in body


def test_conversation_view_of_search_results(
    signed_in: TestClient, services: DevServices, mail_user: MailUser
) -> None:
    from webmail.devservices.seed import DemoMailbox

    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    thread = DemoMailbox(("Me", mail_user.username), seed=11).thread()
    for item in thread:
        client.append("INBOX", item.raw)
    client.append("INBOX", message("Unrelated", "u@example.org", "me@example.test", "x"))
    client.logout()
    subject = re.sub(r"^Re: ", "", thread[-1].raw.split(b"Subject: ")[1].split(b"\r\n")[0].decode())
    word = subject.split()[0]
    html = signed_in.get(f"/mail/INBOX?q={quote('subject:' + word)}&view=threads").text
    groups = re.findall(
        r'<li class="msg thread[^"]*"\s+data-uid="\d+" data-thread="\d+" data-uids="([\d,]+)"',
        html,
    )
    assert len(groups) == 1
    assert len(groups[0].split(",")) == len(thread)
    assert "Unrelated" not in html
