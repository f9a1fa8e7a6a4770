"""Undo send and send later: the outbox, the worker that sends, and failures that keep the message."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import update

from tests.conftest import (
    MailUser,
    flash_after,
    flash_of,
    make_settings,
    process_env,
    session_token,
    sign_in,
)
from tests.integration.test_compose import friend, inbox_of
from webmail.app import create_app
from webmail.config import Settings
from webmail.db.migrate import upgrade
from webmail.db.models import OutboxMessage
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices, PostgresServer
from webmail.devservices.system import free_port
from webmail.smtp.outbox import deliver_due

__all__ = ["friend"]

UNDO_SEND = re.compile(r'action="(/compose/outbox/\d+/undo)"')


@pytest.fixture(scope="module")
def database_url(postgres: PostgresServer) -> str:
    """These tests run `webmail worker`, which serves everything due in its database: one of their
    own, on PostgreSQL, where workers claiming due messages side by side matter most."""
    url = postgres.create_database("outbox")
    upgrade(url)
    return url


@pytest.fixture
def delayed(services: DevServices, database_url: str) -> Settings:
    return make_settings(services, database_url, undo_send_seconds=30)


@pytest.fixture
def client(delayed: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(delayed), follow_redirects=False) as test_client:
        yield test_client


def worker_tick(settings: Settings) -> int:
    """What `webmail worker` does every second, in a thread of its own as there (no event loop)."""

    def tick() -> int:
        engine = create_db_engine(settings.database_url)
        redis = Redis.from_url(settings.redis_url)
        try:
            return deliver_due(settings, create_sessionmaker(engine), redis)
        finally:
            redis.close()
            engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(tick).result()


def time_passes(settings: Settings) -> None:
    """The undo window is over: every waiting message is due now (instead of sleeping)."""
    engine = create_db_engine(settings.database_url)
    with create_sessionmaker(engine).begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "waiting")
            .values(send_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    engine.dispose()


def send(client: TestClient, friend: MailUser, **extra: str):  # type: ignore[no-untyped-def]
    form = {"csrf_token": session_token(client), "draft_id": "outboxDraft1", "to": friend.username,
            "bcc": "secret@example.org", "subject": "Waiting", "body": "Words that wait.", **extra}  # fmt: skip
    return client.post("/compose/send", data=form)


def test_undo_within_the_window_sends_nothing(
    client: TestClient, mail_user: MailUser, friend: MailUser, services: DevServices, delayed: Settings
) -> None:
    assert sign_in(client, mail_user).status_code == 303
    response = send(client, friend)
    page = client.get(response.headers["location"]).text
    assert flash_of(page) == "Sending in 30 seconds."
    assert "Undo" in page
    assert 'data-seconds="30"' in page
    undo_url = UNDO_SEND.search(page).group(1)  # type: ignore[union-attr]
    back = client.post(undo_url, data={"csrf_token": session_token(client)})
    assert back.status_code == 200
    assert "Not sent. The message is back here" in back.text
    assert "Words that wait." in back.text
    assert 'value="secret@example.org"' in back.text
    time_passes(delayed)
    worker_tick(delayed)
    assert inbox_of(services, friend) == []
    too_late = client.post(undo_url, data={"csrf_token": session_token(client)})
    assert too_late.status_code == 404


def test_sent_after_the_window_with_bcc_only_in_the_sent_copy(
    client: TestClient, mail_user: MailUser, friend: MailUser, services: DevServices, delayed: Settings
) -> None:
    assert sign_in(client, mail_user).status_code == 303
    assert send(client, friend).status_code == 303
    assert worker_tick(delayed) == 0  # not yet: 30 seconds to undo
    time_passes(delayed)
    assert worker_tick(delayed) == 1
    assert worker_tick(delayed) == 0  # never twice
    received = message_from_bytes(inbox_of(services, friend)[0], policy=policy.default)
    assert received["Subject"] == "Waiting"
    assert "Bcc" not in received
    sent = message_from_bytes(inbox_of(services, mail_user, "Sent")[-1], policy=policy.default)
    assert str(sent["Bcc"]) == "secret@example.org"
    envelope = [m for m in services.smtp.messages if friend.username in m.rcpt_tos][-1]
    assert "secret@example.org" in envelope.rcpt_tos
    assert "Sent" in client.get("/compose/outbox").text


def test_scheduled_message_goes_at_its_time_through_the_worker(
    client: TestClient,
    mail_user: MailUser,
    friend: MailUser,
    services: DevServices,
    delayed: Settings,
    tmp_path: Path,
) -> None:
    assert sign_in(client, mail_user).status_code == 303
    at = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    response = send(client, friend, send_later="1", send_at=at.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    assert "Scheduled for" in flash_after(client, response)
    assert "Waiting" in client.get("/compose/outbox").text
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "webmail.cli", "worker"], env=process_env(delayed),
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not inbox_of(services, friend):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.3)
        assert datetime.now(UTC) >= at  # not before its time
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)
        log.close()
    past = send(client, friend, send_later="1", send_at="2020-01-01T10:00")
    assert past.status_code == 422
    assert "That time has passed" in past.text


def test_smtp_down_in_the_worker_keeps_the_message_as_a_draft(
    services: DevServices, database_url: str, mail_user: MailUser, friend: MailUser
) -> None:
    settings = make_settings(services, database_url, undo_send_seconds=30, smtp_port=free_port())
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert sign_in(client, mail_user).status_code == 303
        assert send(client, friend).status_code == 303
        time_passes(settings)
        worker_tick(settings)
        page = client.get("/compose/outbox").text
        assert "Not sent:" in page
        assert "The message was saved in Drafts." in page
        outbox_id = page.split('data-outbox="', 1)[1].split('"', 1)[0]
        retry = client.post(f"/compose/outbox/{outbox_id}/undo", data={"csrf_token": session_token(client)})
        assert "Words that wait." in retry.text
    drafts = inbox_of(services, mail_user, "Drafts")
    assert [b"Words that wait." in raw for raw in drafts] == [True]
    assert inbox_of(services, friend) == []
