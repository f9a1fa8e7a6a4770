"""The send workflow when the IMAP connection drops just as the Sent copy is filed.

Dovecot really disconnects the user (``doveadm kick``) at the moment the APPEND to Sent is about
to go, in the web request and in the worker alike: the message has gone by then, so it must be
reported as sent, once, with the Sent copy retried on a fresh connection or explained in words.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import select

from tests.conftest import MailUser, flash_after, fresh_database, make_settings, session_token, sign_in
from tests.integration.test_compose import friend, inbox_of
from tests.integration.test_outbox import time_passes, worker_tick
from webmail.app import create_app
from webmail.config import Settings
from webmail.db.models import OutboxMessage
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.imap import organize
from webmail.imap.pool import IMAPConnection
from webmail.redis import Keys

__all__ = ["friend"]
COPY_LOST = "The copy could not be saved in Sent: the connection to the mail server was lost."

Drops = Callable[[MailUser, int], list[str]]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The worker's tick serves everything due in its database: these tests get their own."""
    return fresh_database(tmp_path_factory)


@pytest.fixture
def drops(services: DevServices, monkeypatch: pytest.MonkeyPatch) -> Drops:
    """Arrange for Dovecot to drop the user's connections right before each of the next
    ``times`` APPENDs to Sent; returns the list of drops made."""

    def arrange(user: MailUser, times: int) -> list[str]:
        real_append = organize.append_message
        made: list[str] = []

        def append_after_a_drop(conn: IMAPConnection, folder: str, raw: bytes, flags: Sequence[str]) -> None:
            if folder == "Sent" and len(made) < times:
                services.dovecot.doveadm("kick", user.username)
                deadline = time.monotonic() + 10
                while services.dovecot.connections(user.username):
                    assert time.monotonic() < deadline, "Dovecot kept the connection"
                    time.sleep(0.05)
                made.append(folder)
            real_append(conn, folder, raw, flags)

        monkeypatch.setattr(organize, "append_message", append_after_a_drop)
        return made

    return arrange


@pytest.fixture
def app_settings(services: DevServices, database_url: str, request: pytest.FixtureRequest) -> Settings:
    return make_settings(services, database_url, undo_send_seconds=request.param)


@pytest.fixture
def client(app_settings: Settings, mail_user: MailUser) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), follow_redirects=False) as test_client:
        assert sign_in(test_client, mail_user).status_code == 303
        yield test_client


def send(client: TestClient, friend: MailUser, subject: str):  # type: ignore[no-untyped-def]
    form = {"csrf_token": session_token(client), "draft_id": "dropDraft01", "to": friend.username,
            "bcc": "hidden@example.org", "subject": subject, "body": "Words that went."}  # fmt: skip
    return client.post("/compose/send", data=form)


def submitted(services: DevServices, friend: MailUser) -> int:
    return sum(1 for m in services.smtp.messages if friend.username in m.rcpt_tos)


def outbox_row(settings: Settings) -> OutboxMessage:
    engine = create_db_engine(settings.database_url)
    with create_sessionmaker(engine)() as session:
        row = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert row is not None
        session.expunge_all()
    engine.dispose()
    return row


def tick_and_listen(settings: Settings, user: MailUser) -> dict[str, str]:
    """One worker tick; the live "outbox" event it published to the user's pages."""
    redis = Redis.from_url(settings.redis_url)
    listener = redis.pubsub()
    listener.subscribe(Keys(settings.redis_prefix).events_channel(user.username))
    try:
        assert worker_tick(settings) == 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = listener.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                event: dict[str, str] = json.loads(message["data"])
                return event
        raise AssertionError("no outbox event")
    finally:
        listener.close()
        redis.close()


@pytest.mark.parametrize("app_settings", [0], indirect=True)
def test_web_send_retries_the_sent_copy_on_a_fresh_connection(
    client: TestClient, services: DevServices, mail_user: MailUser, friend: MailUser, drops: Drops
) -> None:
    made = drops(mail_user, 1)
    response = send(client, friend, "Dropped once")
    assert response.status_code == 303
    assert flash_after(client, response) == "Message sent."
    assert made == ["Sent"]
    assert submitted(services, friend) == 1
    [copy] = inbox_of(services, mail_user, "Sent")
    assert b"Bcc: hidden@example.org" in copy


@pytest.mark.parametrize("app_settings", [0], indirect=True)
def test_web_send_says_sent_when_the_copy_cannot_be_filed(
    client: TestClient, services: DevServices, mail_user: MailUser, friend: MailUser, drops: Drops
) -> None:
    made = drops(mail_user, 10)
    response = send(client, friend, "Dropped always")
    assert response.status_code == 303  # not a 5xx: the message went
    assert flash_after(client, response) == f"Message sent. {COPY_LOST}"
    assert made == ["Sent", "Sent"]  # tried once more, on a fresh connection
    assert submitted(services, friend) == 1
    assert inbox_of(services, mail_user, "Sent") == []
    assert len(inbox_of(services, friend)) == 1


@pytest.mark.parametrize("app_settings", [30], indirect=True)
def test_worker_retries_the_sent_copy_on_a_fresh_connection(
    client: TestClient,
    services: DevServices,
    mail_user: MailUser,
    friend: MailUser,
    drops: Drops,
    app_settings: Settings,
) -> None:
    assert send(client, friend, "Worker dropped once").status_code == 303
    time_passes(app_settings)
    made = drops(mail_user, 1)
    event = tick_and_listen(app_settings, mail_user)
    assert made == ["Sent"]
    assert (event["status"], event["error"]) == ("sent", "")
    row = outbox_row(app_settings)
    assert (row.status, row.error) == ("sent", None)
    assert submitted(services, friend) == 1
    [copy] = inbox_of(services, mail_user, "Sent")
    assert b"Bcc: hidden@example.org" in copy


@pytest.mark.parametrize("app_settings", [30], indirect=True)
def test_worker_reports_sent_with_words_when_the_copy_cannot_be_filed(
    client: TestClient,
    services: DevServices,
    mail_user: MailUser,
    friend: MailUser,
    drops: Drops,
    app_settings: Settings,
) -> None:
    token = session_token(client)
    draft = {"csrf_token": token, "draft_id": "dropDraft01", "to": friend.username, "subject": "Draft first",
             "body": "Words that went."}  # fmt: skip
    assert client.post("/compose/draft", data=draft).status_code == 200
    assert send(client, friend, "Worker dropped always").status_code == 303
    time_passes(app_settings)
    made = drops(mail_user, 10)
    event = tick_and_listen(app_settings, mail_user)
    assert made == ["Sent", "Sent"]
    assert (event["status"], event["error"]) == ("sent", COPY_LOST)
    row = outbox_row(app_settings)
    assert (row.status, row.error) == ("sent", COPY_LOST)
    assert f'Sent <span class="failed">{COPY_LOST}</span>' in client.get("/compose/outbox").text
    assert submitted(services, friend) == 1
    assert len(inbox_of(services, friend)) == 1
    assert inbox_of(services, mail_user, "Sent") == []
    assert inbox_of(services, mail_user, "Drafts") == []  # the rest of the workflow went on
