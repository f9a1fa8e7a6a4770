"""Quota against Dovecot with a small quota per user: the bar in the folder pane, and every
over-quota path saying so in words with nothing lost."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis

from tests.conftest import LOCAL_CLIENT, MailUser, flash_after, make_settings, session_token, sign_in
from tests.integration.test_pop3_accounts import Source, account_row, add_account
from webmail.app import create_app
from webmail.config import Settings
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.devservices.dovecot import Dovecot, start_dovecot
from webmail.pop3.jobs import FetchContext, fetch

pytestmark = pytest.mark.integration

KB = 1024
QUOTA_KB = 1000
WITHOUT_QUOTA = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
    "ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SPECIAL-USE"
)


def sized(subject: str, size: int, *, message_id: str | None = None) -> bytes:
    head = f"From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{message_id or subject.replace(' ', '.')}@q>\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    return head.encode() + line * (size // len(line))


@pytest.fixture
def context(settings: Settings) -> Iterator[FetchContext]:
    engine = create_db_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    yield FetchContext(settings, create_sessionmaker(engine), redis)
    redis.close()
    engine.dispose()


@pytest.fixture
def small(services: DevServices) -> MailUser:
    """A user whose mailbox holds 1000 KB."""
    return MailUser(services.dovecot.new_user("pw-small", quota_kb=QUOTA_KB), "pw-small")


@pytest.fixture
def small_imap(services: DevServices, small: MailUser) -> Iterator[IMAPClient]:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(small.username, small.password)
    yield imap
    imap.logout()


@pytest.fixture
def small_client(client: TestClient, small: MailUser) -> TestClient:
    assert sign_in(client, small).status_code == 303
    return client


def quota_of(page: str) -> tuple[str, str] | None:
    found = re.search(r'data-quota="(\w+)" data-percent="(\d+)"', page)
    return (found.group(1), found.group(2)) if found else None


def subjects(imap: IMAPClient, folder: str) -> list[str]:
    imap.select_folder(folder, readonly=True)
    uids = imap.search(["ALL"])
    rows = imap.fetch(uids, ["ENVELOPE"]) if uids else {}
    return [rows[uid][b"ENVELOPE"].subject.decode() for uid in sorted(rows)]


def test_the_bar_turns_amber_then_red_with_a_link(small_client: TestClient, small_imap: IMAPClient) -> None:
    small_imap.append("INBOX", sized("first", 300 * KB))
    page = small_client.get("/mail/INBOX").text
    assert quota_of(page) == ("ok", "30")
    assert "of 1000.0 KB" in page or "of 1000 KB" in page
    assert 'href="/settings/storage">Free up space</a>' not in page  # the bar's link, under 80 %
    small_imap.append("INBOX", sized("second", 520 * KB))
    page = small_client.get("/mail/INBOX").text
    assert quota_of(page) == ("warning", "82")
    assert 'href="/settings/storage">Free up space</a>' in page
    small_imap.append("INBOX", sized("third", 140 * KB))
    page = small_client.get("/mail/INBOX").text
    level, percent = quota_of(page) or ("", "")
    assert level == "critical"
    assert int(percent) >= 95
    assert "Mailbox almost full: free up space" in page
    partial = small_client.get("/mail/INBOX", headers={"HX-Request": "true", "HX-Target": "folder-list"})
    assert quota_of(partial.text) == (level, percent)  # refreshed with the folder list


@pytest.fixture(scope="module")
def dovecot_without_quota() -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="webmail-noquota-"))
    root.chmod(0o755)
    dovecot = start_dovecot(root / "dovecot", imap_capability=WITHOUT_QUOTA)
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_no_bar_without_quota(
    services: DevServices, database_url: str, dovecot_without_quota: Dovecot
) -> None:
    user = MailUser(dovecot_without_quota.new_user("pw", quota_kb=QUOTA_KB), "pw")
    settings = make_settings(services, database_url, imap_port=dovecot_without_quota.imap_port)
    with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as client:
        assert sign_in(client, user).status_code == 303
        page = client.get("/mail/INBOX").text
    assert 'data-folder="INBOX"' in page
    assert quota_of(page) is None
    assert "quota" not in page.lower().replace("quotation", "")


def test_copy_over_quota_says_so_and_keeps_the_messages(
    small_client: TestClient, small_imap: IMAPClient
) -> None:
    small_imap.append("INBOX", sized("big one", 600 * KB))
    response = small_client.post(
        "/mail/INBOX/bulk",
        data={"csrf_token": session_token(small_client), "action": "copy:Archive", "uid": "1"},
    )
    words = flash_after(small_client, response)
    assert (
        words == "The mail server refused to copy the messages: “Quota exceeded (mailbox for user is full)”"
    )
    assert subjects(small_imap, "INBOX") == ["big one"]
    assert subjects(small_imap, "Archive") == []


def test_import_stops_with_mailbox_full(small_client: TestClient, small_imap: IMAPClient) -> None:
    mbox = b"".join(
        b"From a@example.org Sat Jan  4 10:00:00 2020\n"
        + sized(f"part {i}", 300 * KB).replace(b"\r\n", b"\n")
        + b"\n"
        for i in range(5)
    )
    response = small_client.post(
        "/mail/INBOX/import",
        files={"file": ("all.mbox", mbox, "application/mbox")},
        data={"csrf_token": session_token(small_client)},
    )
    page = response.text
    assert 'data-imported="3"' in page
    assert 'data-stopped="mailbox full"' in page
    assert "Import stopped: mailbox full." in page
    assert "2 messages of the file were not imported" in page
    assert subjects(small_imap, "INBOX") == ["part 0", "part 1", "part 2"]


def test_a_draft_that_does_not_fit_stays_in_the_editor(
    small_client: TestClient, small_imap: IMAPClient
) -> None:
    small_imap.append("INBOX", sized("filler", 990 * KB))
    form = {"csrf_token": session_token(small_client), "draft_id": "d" * 32, "to": "x@example.org",
            "subject": "Unsaved", "body": "Words worth keeping. " * 1000}  # fmt: skip
    response = small_client.post("/compose/draft", data=form)
    assert response.status_code == 507
    assert response.text.startswith(
        "Not saved in Drafts: mailbox full. The text stays here and in this browser"
    )
    assert subjects(small_imap, "Drafts") == []


def test_sent_mail_that_cannot_be_filed_says_so(small_client: TestClient, small_imap: IMAPClient) -> None:
    small_imap.append("INBOX", sized("filler", 995 * KB))
    form = {"csrf_token": session_token(small_client), "draft_id": "e" * 32, "to": "friend@example.org",
            "subject": "Goes anyway", "body": "Long enough to need room. " * 400}  # fmt: skip
    response = small_client.post("/compose/send", data=form)
    assert response.status_code == 303
    assert flash_after(small_client, response) == (
        "Message sent. The copy could not be saved in Sent: Mailbox full: the mail server has no room for more messages."
    )
    assert subjects(small_imap, "Sent") == []


def test_pop3_import_stops_with_mailbox_full_and_leaves_the_rest(
    small_client: TestClient,
    small: MailUser,
    small_imap: IMAPClient,
    services: DevServices,
    context: FetchContext,
) -> None:
    source = Source(MailUser(services.dovecot.new_user("pw-source"), "pw-source"), services)
    source.put(*(sized(f"pop {i}", 300 * KB) for i in range(5)))
    account_id = add_account(small_client, services, source, leave_on_server="", folder="INBOX")
    outcome = fetch(context, account_id)
    assert outcome.outcome == "error"
    assert subjects(small_imap, "INBOX") == ["pop 0", "pop 1", "pop 2"]
    row = account_row(context, account_id)
    assert row.last_error is not None
    assert row.last_error.startswith("Mailbox full")
    assert "The remaining messages stay on the POP3 server" in row.last_error
    on_source = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    on_source.login(source.user.username, source.user.password)
    try:
        assert len(subjects(on_source, "INBOX")) == 5  # no DELE took effect: QUIT never came
    finally:
        on_source.logout()
    page = small_client.get(f"/settings/accounts/{account_id}").text
    assert "Mailbox full" in page
