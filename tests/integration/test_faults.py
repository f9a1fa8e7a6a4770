"""Fault suite (issue 21): Dovecot killed in the middle of a request, and an SMTP server that
refuses, hangs or drops the connection while taking a message. Real processes throughout: a
private Dovecot (killed with SIGKILL), the app, and SMTP servers on loopback sockets.

Dovecot is reached through a Tripwire relay, which kills it when the app sends a chosen command,
so each fault lands at the same point of the request on every run. Nothing here may answer 500;
a request the app can retry on a fresh connection succeeds, one it cannot answers 503 in words,
and nothing written is lost or sent twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis

from tests.conftest import MailUser, flash_after, make_settings, session_token, sign_in
from tests.faults import Action, Relay, SMTPState, Tripwire, faulty_smtp
from tests.integration.test_compose import inbox_of
from tests.integration.test_pop3 import source_message
from tests.integration.test_pop3_accounts import Source, add_account
from webmail.app import create_app
from webmail.config import Settings
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.pop3.jobs import FetchContext, fetch

LIST_FETCH = rb"FETCH [0-9:,]+ \(UID FLAGS ENVELOPE"
BODY_FETCH = rb"BODY\.PEEK\[1\]"
SENT_APPEND = rb'APPEND "Sent"'
WRITTEN = "Words that must not be lost"


@pytest.fixture(scope="module")
def own() -> Iterator[DevServices]:
    """Services of this module alone: Dovecot is killed here."""
    with DevServices() as running:
        yield running


@pytest.fixture(scope="module")
def wire(own: DevServices) -> Iterator[Tripwire]:
    tripwire = Tripwire(own.dovecot.imap_port)
    yield tripwire
    tripwire.close()


@pytest.fixture(autouse=True)
def dovecot_up_again(own: DevServices, wire: Tripwire) -> Iterator[None]:
    yield
    wire.disarm()
    if own.dovecot.process.poll() is not None:
        own.dovecot.start()


@pytest.fixture
def user(own: DevServices) -> MailUser:
    return MailUser(own.dovecot.new_user("pw-fault"), "pw-fault")


def put(own: DevServices, user: MailUser, subject: str, folder: str = "INBOX") -> int:
    client = IMAPClient("127.0.0.1", own.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    raw = f"From: Ann <ann@example.org>\r\nSubject: {subject}\r\n\r\nThe text of {subject}\r\n".encode()
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", client.append(folder, raw)).group(1))  # type: ignore[union-attr]
    client.logout()
    return uid


def crash(own: DevServices, *, restart: bool) -> Action:
    """The Tripwire's action: SIGKILL Dovecot (and start it again before the app notices)."""

    def action(relay: Relay) -> None:
        own.dovecot.kill()
        if restart:
            own.dovecot.start()

    return action


def crash_after(own: DevServices) -> Action:
    """Let Dovecot act on the command, then SIGKILL it before its answer reaches the app (and
    start it again): the app cannot know the command was carried out."""

    def action(relay: Relay) -> None:
        relay.pass_on()
        time.sleep(0.3)
        own.dovecot.kill()
        own.dovecot.start()

    return action


@pytest.fixture
def relayed(own: DevServices, wire: Tripwire, database_url: str) -> Settings:
    """The app's settings: Dovecot through the Tripwire."""
    return make_settings(own, database_url, imap_port=wire.port)


@pytest.fixture
def app(relayed: Settings, user: MailUser) -> Iterator[TestClient]:
    with TestClient(create_app(relayed), follow_redirects=False) as client:
        assert sign_in(client, user).status_code == 303
        yield client


class TestDovecotKilled:
    def test_during_the_list_the_page_is_served_from_a_new_connection(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser
    ) -> None:
        uid = put(own, user, "Still listed")
        wire.arm(LIST_FETCH, crash(own, restart=True))
        page = app.get("/mail/INBOX")
        assert wire.tripped.is_set()
        assert page.status_code == 200, page.text[:300]
        assert f'data-uid="{uid}"' in page.text

    def test_during_opening_a_message_it_opens_from_a_new_connection(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser
    ) -> None:
        uid = put(own, user, "Opened anyway")
        wire.arm(BODY_FETCH, crash(own, restart=True))
        page = app.get(f"/mail/INBOX/{uid}/body")
        assert wire.tripped.is_set()
        assert page.status_code == 200, page.text[:300]
        assert "The text of Opened anyway" in page.text

    def test_down_for_the_whole_request_is_a_503_in_words_then_it_recovers(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser
    ) -> None:
        uid = put(own, user, "Back later")
        wire.arm(LIST_FETCH, crash(own, restart=False))
        down = app.get("/mail/INBOX")
        assert down.status_code == 503
        assert "Mail server unavailable" in down.text
        assert "Content-Security-Policy" in down.headers
        opening = app.get(f"/mail/INBOX/{uid}")
        assert opening.status_code == 503
        own.dovecot.start()
        assert f'data-uid="{uid}"' in app.get("/mail/INBOX").text
        assert app.get(f"/mail/INBOX/{uid}").status_code == 200

    @pytest.mark.parametrize(("suffix", "section"), [("/raw", rb"\[\]"), ("/part/1", rb"\[1\]")])
    def test_down_as_a_download_starts_is_a_503_not_an_empty_file(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser, suffix: str, section: bytes
    ) -> None:
        uid = put(own, user, "Downloaded later")
        assert app.get(f"/mail/INBOX/{uid}").status_code == 200
        wire.arm(rb"BODY\.PEEK" + section + rb"<0\.", crash(own, restart=False))
        down = app.get(f"/mail/INBOX/{uid}{suffix}")
        assert wire.tripped.is_set()
        assert down.status_code == 503
        assert "Mail server unavailable" in down.text
        own.dovecot.start()
        again = app.get(f"/mail/INBOX/{uid}{suffix}")
        assert again.status_code == 200
        assert b"The text of Downloaded later" in again.content

    def test_during_send_the_message_goes_once_and_its_copy_is_filed_once(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser
    ) -> None:
        before = len(own.smtp.messages)
        wire.arm(SENT_APPEND, crash(own, restart=True))
        form = {"csrf_token": session_token(app), "to": "far@example.org", "subject": "Once", "body": WRITTEN}
        sent = app.post("/compose/send", data=form)
        assert wire.tripped.is_set()
        assert sent.status_code == 303, sent.text[:300]
        assert flash_after(app, sent) == "Message sent."
        assert [m.rcpt_tos for m in own.smtp.messages[before:]] == [("far@example.org",)]
        assert len(inbox_of(own, user, "Sent")) == 1

    def test_killed_after_filing_the_sent_copy_before_answering_it_is_filed_once(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser
    ) -> None:
        before = len(own.smtp.messages)
        wire.arm(SENT_APPEND, crash_after(own))
        form = {
            "csrf_token": session_token(app),
            "to": "far@example.org",
            "subject": "Filed",
            "body": WRITTEN,
        }
        sent = app.post("/compose/send", data=form)
        assert wire.tripped.is_set()
        assert sent.status_code == 303, sent.text[:300]
        assert flash_after(app, sent).startswith("Message sent.")
        assert len(own.smtp.messages) == before + 1
        assert len(inbox_of(own, user, "Sent")) == 1

    def test_killed_after_a_move_before_answering_the_message_is_moved_once(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser
    ) -> None:
        uid = put(own, user, "Moved once")
        kept = put(own, user, "Stays")
        app.get("/mail/INBOX")
        wire.arm(rb"UID MOVE ", crash_after(own))
        moved = app.post(f"/mail/INBOX/{uid}/delete", headers={"X-CSRF-Token": session_token(app)})
        assert wire.tripped.is_set()
        assert moved.status_code == 303, moved.text[:300]
        assert flash_after(app, moved) == "Moved to Trash."
        assert [b"Moved once" in raw for raw in inbox_of(own, user, "Trash")] == [True]
        assert [b"Stays" in raw for raw in inbox_of(own, user)] == [True]
        assert f'data-uid="{kept}"' in app.get("/mail/INBOX").text

    def test_down_after_the_message_went_it_says_sent_and_why_no_copy(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser
    ) -> None:
        before = len(own.smtp.messages)
        wire.arm(SENT_APPEND, crash(own, restart=False))
        form = {"csrf_token": session_token(app), "to": "far@example.org", "subject": "Gone", "body": WRITTEN}
        sent = app.post("/compose/send", data=form)
        assert sent.status_code == 303, sent.text[:300]
        own.dovecot.start()
        words = flash_after(app, sent)
        assert words.startswith("Message sent.")
        assert "could not be saved in Sent" in words
        assert len(own.smtp.messages) == before + 1

    def test_during_a_pop3_fetch_nothing_is_lost_or_imported_twice(
        self, app: TestClient, own: DevServices, wire: Tripwire, user: MailUser, relayed: Settings
    ) -> None:
        source = Source(MailUser(own.dovecot.new_user("pw-source"), "pw-source"), own)
        originals = [source_message(i) for i in range(5)]
        source.put(*originals)
        account_id = add_account(app, own, source, leave_on_server="")
        engine = create_db_engine(relayed.database_url)
        redis = Redis.from_url(relayed.redis_url)
        context = FetchContext(relayed, create_sessionmaker(engine), redis)
        try:
            # The third message's APPEND: two are stored (and deleted at the source), three not.
            wire.arm(rb'APPEND "Imported"', crash(own, restart=False), nth=3)
            failed = fetch(context, account_id)
            assert wire.tripped.is_set(), failed
            assert failed.outcome == "error", failed
            assert failed.message
            own.dovecot.start()
            again = fetch(context, account_id)
            assert again.outcome == "ok", again
        finally:
            redis.close()
            engine.dispose()
        subjects = sorted(
            re.search(rb"Subject: ([^\r]+)", raw).group(1) for raw in inbox_of(own, user, "Imported")
        )  # type: ignore[union-attr]
        assert subjects == sorted(re.search(rb"Subject: ([^\r]+)", raw).group(1) for raw in originals)  # type: ignore[union-attr]
        assert inbox_of(own, source.user) == []  # deleted there only once stored here


@pytest.fixture
def smtp() -> Iterator[tuple[int, SMTPState]]:
    with faulty_smtp() as server:
        yield server


class TestSMTPFaults:
    """Whatever the submission server does, the form comes back filled in with the reason, the
    message waits in Drafts, and the app never hands it over a second time by itself."""

    @pytest.fixture
    def sender(
        self, own: DevServices, database_url: str, user: MailUser, smtp: tuple[int, SMTPState]
    ) -> Iterator[TestClient]:
        settings = make_settings(own, database_url, smtp_port=smtp[0], smtp_timeout_seconds=1)
        with TestClient(create_app(settings), follow_redirects=False) as client:
            assert sign_in(client, user).status_code == 303
            yield client

    def send(self, client: TestClient, subject: str):  # type: ignore[no-untyped-def]
        form = {
            "csrf_token": session_token(client),
            "to": "far@example.org",
            "subject": subject,
            "body": WRITTEN,
        }
        return client.post("/compose/send", data=form)

    def assert_kept(self, own: DevServices, user: MailUser, page: str, subject: str) -> None:
        assert WRITTEN in page  # the form, filled in
        assert "saved in Drafts" in page
        drafts = inbox_of(own, user, "Drafts")
        assert len(drafts) == 1
        assert subject.encode() in drafts[0]

    def test_a_refusal_is_told_in_the_servers_words(
        self, sender: TestClient, smtp: tuple[int, SMTPState], own: DevServices, user: MailUser
    ) -> None:
        smtp[1].mode = "refuse"
        page = self.send(sender, "Refused")
        assert page.status_code == 502
        assert "it looks like spam to us" in page.text
        self.assert_kept(own, user, page.text, "Refused")
        assert (smtp[1].connections, smtp[1].data_started, smtp[1].accepted) == (1, 1, [])

    def test_nobody_listening_says_not_sent(
        self, own: DevServices, database_url: str, user: MailUser
    ) -> None:
        with faulty_smtp() as (port, _):
            pass  # closed again: the port refuses connections now
        settings = make_settings(own, database_url, smtp_port=port, smtp_timeout_seconds=1)
        with TestClient(create_app(settings), follow_redirects=False) as client:
            assert sign_in(client, user).status_code == 303
            page = self.send(client, "Unreachable")
        assert page.status_code == 503
        assert "unavailable. Your message was not sent" in page.text
        self.assert_kept(own, user, page.text, "Unreachable")

    def test_a_server_silent_after_the_message_times_out_and_it_is_not_sent_again(
        self, sender: TestClient, smtp: tuple[int, SMTPState], own: DevServices, user: MailUser
    ) -> None:
        smtp[1].mode = "hang"
        started = time.monotonic()
        page = self.send(sender, "Silence")
        assert time.monotonic() - started < 15
        assert page.status_code == 504
        assert "may or may not have gone out" in page.text
        self.assert_kept(own, user, page.text, "Silence")
        assert (smtp[1].connections, smtp[1].data_started) == (1, 1)

    def test_a_connection_dropped_mid_data_is_not_retried(
        self, sender: TestClient, smtp: tuple[int, SMTPState], own: DevServices, user: MailUser
    ) -> None:
        smtp[1].mode = "drop"
        page = self.send(sender, "Dropped")
        assert page.status_code == 504
        assert "It was not sent again" in page.text
        self.assert_kept(own, user, page.text, "Dropped")
        assert (smtp[1].connections, smtp[1].data_started, smtp[1].accepted) == (1, 1, [])
        smtp[1].mode = "accept"  # the user sends it again, deliberately: it goes once
        again = self.send(sender, "Dropped, then sent")
        assert again.status_code == 303
        assert len(smtp[1].accepted) == 1
