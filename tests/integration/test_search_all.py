"""Searching all folders: streamed per folder, merged by date, a broken folder reported, cancellable."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import quote, urlencode

import httpx2 as httpx
import pytest
from imapclient import IMAPClient

from tests.conftest import MailUser, sign_in
from webmail.devservices import DevServices
from webmail.imap import metrics
from webmail.imap.errors import ProtocolError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder
from webmail.mail.query import Query
from webmail.web.routes import search


def mail(subject: str, day: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "s@example.org", subject
    msg["Date"] = f"Mon, {day:02d} Nov 2026 10:00:00 +0000"
    msg.set_content("text")
    return bytes(msg)


@pytest.fixture
def client(live_server: str, mail_user: MailUser) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, follow_redirects=False, timeout=30) as http:
        assert sign_in(http, mail_user).status_code == 303  # type: ignore[arg-type]
        yield http


@pytest.fixture
def imap(services: DevServices, mail_user: MailUser) -> Iterator[IMAPClient]:
    connection = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    connection.login(mail_user.username, mail_user.password)
    yield connection
    connection.logout()


def events(client: httpx.Client, path: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE stream, data lines joined, until the ``done`` event."""
    found: list[tuple[str, str]] = []
    with client.stream("GET", path) as response:
        event, data = "", []
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line and event:
                found.append((event, "\n".join(data)))
                if event == "done":
                    break
                event, data = "", []
    return found


def test_advanced_form_builds_the_query(client: httpx.Client, imap: IMAPClient) -> None:
    response = client.get(
        "/search",
        params={
            "from": "anna",
            "subject": "big report",
            "is_unread": "1",
            "scope": "folder",
            "folder": "Sent",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/mail/Sent?q=" + quote(
        'from:anna subject:"big report" is:unread', safe=""
    ).replace("%20", "+")


def test_all_folders_streamed_merged_and_a_broken_folder_reported(
    client: httpx.Client, imap: IMAPClient, services: DevServices, mail_user: MailUser
) -> None:
    for name, day in (("INBOX", 3), ("Archive", 9), ("Sent", 5), ("Projects", 7)):
        if name == "Projects":
            imap.create_folder(name)
        imap.append(name, mail(f"needle from {name}", day))
    imap.append("INBOX", mail("haystack only", 8))
    imap.create_folder("Broken")
    broken = services.dovecot.root / "mail" / mail_user.username / "Maildir" / ".Broken"
    os.chmod(broken, 0)
    try:
        page = client.get("/search", params={"q": "needle", "scope": "all", "folder": "INBOX"})
        assert page.status_code == 200
        stream_url = re.search(r'sse-connect="([^"]+)"', page.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
        received = events(client, stream_url)
    finally:
        os.chmod(broken, 0o700)
    results = [data for event, data in received if event == "result"]
    assert any("Broken" in data and "search-error" in data for data in results)
    assert sum(data.count("search-hit") for data in results) == 4
    done = [data for event, data in received if event == "done"][0]
    order = re.findall(r"needle</mark> from (\w+)", done)
    assert order == ["Archive", "Projects", "Sent", "INBOX"]  # newest first, across folders
    statuses = [data for event, data in received if event == "status"]
    assert statuses[-1].startswith("4 found in")


HOSTILE_NAME = "<img src=x onerror=alert(1)>"
BROKEN_HOSTILE_NAME = "<svg onload=alert(2)>"
HOSTILE_ERROR = '</li><script>alert(3)</script><li title="x" onmouseover="alert(4)">'


def test_hostile_folder_names_and_server_errors_are_escaped_in_the_stream(
    client: httpx.Client,
    imap: IMAPClient,
    services: DevServices,
    mail_user: MailUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (HOSTILE_NAME, BROKEN_HOSTILE_NAME, "Refusing"):
        imap.create_folder(name)
        imap.append(name, mail(f"needle in {name}", 6))
    maildir = services.dovecot.root / "mail" / mail_user.username / "Maildir"
    (broken,) = [path for path in maildir.iterdir() if "svg" in path.name]
    real_search_folder = search.search_folder

    async def refusing(store: MailStore, folder: Folder, query: Query) -> tuple[int, list[search.Hit]]:
        if folder.name == "Refusing":  # a server whose refusal text ends up in the message
            raise ProtocolError(f"The mail server said: {HOSTILE_ERROR}")
        return await real_search_folder(store, folder, query)

    monkeypatch.setattr(search, "search_folder", refusing)
    os.chmod(broken, 0)
    try:
        received = events(client, "/search/stream?" + urlencode({"q": "needle", "scope": "all"}))
    finally:
        os.chmod(broken, 0o700)
    html = "\n".join(data for event, data in received if event in ("result", "done"))
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the hit's folder label
    assert "&lt;svg onload=alert(2)&gt;: " in html  # the folder that could not be searched
    assert "&lt;/li&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in html  # the server's words
    for raw in ("<img", "<svg", "<script", 'onmouseover="', "<li title"):
        assert raw not in html
    errors = [data for event, data in received if event == "result" and "search-error" in data]
    assert len(errors) == 2
    assert all(data.startswith('<li class="search-error" role="alert">') for data in errors)


def test_results_page_without_javascript(client: httpx.Client, imap: IMAPClient) -> None:
    imap.append("Archive", mail("plain needle", 4))
    page = client.get("/search/results", params={"q": "needle", "scope": "all"})
    assert page.status_code == 200
    assert "plain <mark>needle</mark>" in page.text
    assert "1 found" in page.text


def test_closing_the_stream_stops_the_searches(client: httpx.Client, imap: IMAPClient) -> None:
    for i in range(20):
        imap.create_folder(f"Many{i:02d}")
        imap.append(f"Many{i:02d}", mail(f"needle {i}", 10))
    counter = metrics.IMAP_LATENCY.labels(operation="search")
    before = counter._sum.get(), sum(bucket.get() for bucket in counter._buckets)
    with client.stream("GET", "/search/stream", params={"q": "needle", "scope": "all"}) as response:
        for line in response.iter_lines():
            if line.startswith("event: result"):
                break  # one folder arrived: cancel
    time.sleep(1.5)
    searched = sum(bucket.get() for bucket in counter._buckets) - before[1]
    assert 1 <= searched < 20
