"""POP3 accounts end to end: the settings pages, Test connection, jobs, status, back-off, locks."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis
from sqlalchemy import select

from tests.conftest import MailUser, make_settings, session_token, sign_in
from tests.integration.test_pop3 import source_message
from tests.pop3server import Mailbox, refused_port, tiny_pop3
from webmail.app import create_app
from webmail.config import Settings
from webmail.db.models import POP3Account, User
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.pop3.jobs import FetchContext, enqueue_due, enqueue_fetch, fetch, job_queue
from webmail.redis import Keys


@pytest.fixture
def settings(services: DevServices, database_url: str) -> Settings:
    return make_settings(services, database_url, pop3_timeout_seconds=2, pop3_min_interval_minutes=5)


@dataclass
class Source:
    user: MailUser
    services: DevServices

    def put(self, *messages: bytes) -> None:
        client = IMAPClient("127.0.0.1", self.services.dovecot.imap_port, ssl=False)
        client.login(self.user.username, self.user.password)
        for raw in messages:
            client.append("INBOX", raw)
        client.logout()


@pytest.fixture
def source(services: DevServices) -> Source:
    return Source(MailUser(services.dovecot.new_user("pw-source"), "pw-source"), services)


@pytest.fixture
def context(settings: Settings) -> Iterator[FetchContext]:
    engine = create_db_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    yield FetchContext(settings, create_sessionmaker(engine), redis)
    redis.close()
    engine.dispose()


def account_fields(
    client: TestClient, services: DevServices, source: Source, **changes: str
) -> dict[str, str]:
    fields = {
        "csrf_token": session_token(client),
        "host": "127.0.0.1",
        "port": str(services.dovecot.pop3_port),
        "security": "none",
        "username": source.user.username,
        "password": source.user.password,
        "folder": "Imported",
        "leave_on_server": "on",
        "only_new": "0",
        "interval_minutes": "15",
        "enabled": "on",
        "consent": "on",
    }
    fields.update(changes)
    return fields


def add_account(client: TestClient, services: DevServices, source: Source, **changes: str) -> int:
    response = client.post("/settings/accounts", data=account_fields(client, services, source, **changes))
    assert response.status_code == 303, response.text
    match = re.search(r"/settings/accounts/(\d+)\?saved=1$", response.headers["location"])
    assert match
    return int(match.group(1))


def imported(services: DevServices, user: MailUser, folder: str = "Imported") -> list[bytes]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    try:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        return [row[b"BODY[]"] for row in client.fetch(uids, ["BODY.PEEK[]"]).values()] if uids else []
    finally:
        client.logout()


def account_row(context: FetchContext, account_id: int) -> POP3Account:
    with context.db() as session:
        account = session.get(POP3Account, account_id)
        assert account is not None
        return account


def test_form_names_each_problem_and_creates_nothing(
    signed_in: TestClient, services: DevServices, source: Source
) -> None:
    page = signed_in.get("/settings/accounts/new")
    assert page.status_code == 200
    for name in ("host", "port", "security", "username", "password", "folder", "leave_on_server",
                 "delete_after_days", "only_new", "mark_read", "max_size_mb", "interval_minutes",
                 "enabled", "consent"):  # fmt: skip
        assert f'name="{name}"' in page.text, name
    fields = account_fields(signed_in, services, source, host="pop.example.com", interval_minutes="1",
                            password="", consent="")  # fmt: skip
    response = signed_in.post("/settings/accounts", data=fields)
    assert response.status_code == 422
    text = response.text
    assert "Without encryption the password would cross the network" in text
    assert "Enter a number from 5 to 1440" in text
    assert "Enter the password of the POP3 account" in text
    assert "needs your agreement" in text
    assert "No other accounts yet" in signed_in.get("/settings/accounts").text
    # A refusal keeps the password that was typed (it is not asked for twice).
    fields.update(password="typed-secret", consent="on")
    again = signed_in.post("/settings/accounts", data=fields)
    assert again.status_code == 422
    assert 'value="typed-secret"' in again.text


def test_add_fetch_status_history_and_metrics(
    signed_in: TestClient, services: DevServices, source: Source, context: FetchContext, mail_user: MailUser
) -> None:
    originals = [source_message(i) for i in range(3)]
    source.put(*originals)
    account_id = add_account(signed_in, services, source)
    queue = job_queue(context.settings, context.redis)
    assert Keys(context.settings.redis_prefix).pop3_job_id(account_id) in queue.job_ids  # queued at once
    again = signed_in.post(
        f"/settings/accounts/{account_id}/fetch", data={"csrf_token": session_token(signed_in)}
    )
    assert again.headers["location"].endswith("queued=already")
    assert "Fetching now…" in signed_in.get(f"/settings/accounts/{account_id}/status").text  # while queued
    assert "Fetching now…" in signed_in.get("/settings/accounts").text

    outcome = fetch(context, account_id)
    assert (outcome.outcome, outcome.imported) == ("ok", 3)
    assert sorted(imported(services, mail_user)) == sorted(originals)

    page = signed_in.get(f"/settings/accounts/{account_id}").text
    assert "3 imported" in page
    assert "Last 1 fetches" in page
    status = signed_in.get(f"/settings/accounts/{account_id}/status", headers={"HX-Request": "true"})
    assert status.text.lstrip().startswith('<section id="account-status"')
    assert "<html" not in status.text
    listing = signed_in.get("/settings/accounts").text
    assert source.user.username in listing
    assert "Imported" in listing

    metrics = signed_in.get("/metrics").text
    assert 'webmail_pop3_runs_total{outcome="ok"} 1.0' in metrics
    assert "webmail_pop3_messages_total 3.0" in metrics
    assert float(re.search(r"^webmail_pop3_run_seconds_total (\S+)$", metrics, re.M).group(1)) > 0  # type: ignore[union-attr]

    with context.db() as session:
        account = session.get(POP3Account, account_id)
        user = session.scalars(select(User).where(User.login == mail_user.username)).one()
        assert account is not None
        assert source.user.password.encode() not in account.password_encrypted
        assert user.imap_credential
        assert mail_user.password.encode() not in user.imap_credential


def test_test_connection_says_what_went_wrong(
    signed_in: TestClient, services: DevServices, source: Source
) -> None:
    source.put(source_message(1), source_message(2))

    def attempt(**changes: str) -> str:
        fields = account_fields(signed_in, services, source, **changes)
        response = signed_in.post("/settings/accounts/test", data=fields, headers={"HX-Request": "true"})
        assert response.status_code == 200
        return response.text

    assert "Connection OK: 2 messages" in attempt()
    assert "user name or password is wrong" in attempt(password="wrong")
    assert "refused the connection" in attempt(port=str(refused_port()))
    assert "does not resolve" in attempt(host="pop.does-not-exist.invalid", security="tls", port="995")
    assert "secure connection to the POP3 server failed" in attempt(security="tls")  # TLS to a plain port
    with tiny_pop3(Mailbox([]), tls=True) as port:
        assert "certificate is not valid" in attempt(security="tls", port=str(port))
    with tiny_pop3(Mailbox([]), silent=True) as port:
        assert "did not answer in time" in attempt(port=str(port))
    no_js = signed_in.post("/settings/accounts/test", data=account_fields(signed_in, services, source))
    assert "Connection OK: 2 messages" in no_js.text
    assert "<html" in no_js.text


def test_failing_account_backs_off_with_a_hint(
    signed_in: TestClient, services: DevServices, source: Source, context: FetchContext
) -> None:
    account_id = add_account(signed_in, services, source, password="wrong-password")
    before = datetime.now(UTC)
    first = fetch(context, account_id)
    assert (first.outcome, first.kind) == ("error", "auth")
    account = account_row(context, account_id)
    assert account.failures == 1
    assert "update the password on this page" in (account.last_error or "")
    wait = account.next_run_at.replace(tzinfo=UTC) - before  # type: ignore[union-attr]
    assert timedelta(minutes=14) < wait <= timedelta(minutes=16)
    fetch(context, account_id)
    account = account_row(context, account_id)
    wait = account.next_run_at.replace(tzinfo=UTC) - before  # type: ignore[union-attr]
    assert account.failures == 2
    assert timedelta(minutes=29) < wait <= timedelta(minutes=31)
    page = signed_in.get(f"/settings/accounts/{account_id}").text
    assert "update the password on this page" in page
    assert 'webmail_pop3_errors_total{kind="auth"} 2.0' in signed_in.get("/metrics").text
    # Fixing the password clears the back-off and the next fetch works.
    fields = account_fields(signed_in, services, source)
    assert signed_in.post(f"/settings/accounts/{account_id}", data=fields).status_code == 303
    assert fetch(context, account_id).outcome == "ok"
    assert account_row(context, account_id).failures == 0


def test_one_fetch_per_account_at_a_time(
    signed_in: TestClient, services: DevServices, source: Source, context: FetchContext, mail_user: MailUser
) -> None:
    source.put(*[source_message(i) for i in range(30)])
    account_id = add_account(signed_in, services, source, leave_on_server="")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        outcomes.append(fetch(context, account_id).outcome)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["busy", "ok"]
    assert len(imported(services, mail_user)) == 30
    queue = job_queue(context.settings, context.redis)
    assert enqueue_fetch(context.settings, queue, account_id) is False  # queued when it was added


def test_scheduler_queues_only_due_enabled_accounts(
    signed_in: TestClient, services: DevServices, source: Source, context: FetchContext
) -> None:
    due = add_account(signed_in, services, source)
    later = add_account(signed_in, services, source)
    paused = add_account(signed_in, services, source, enabled="")
    queue = job_queue(context.settings, context.redis)
    queue.empty()
    with context.db.begin() as session:
        account = session.get(POP3Account, later)
        assert account is not None
        account.next_run_at = datetime.now(UTC) + timedelta(minutes=10)
    assert enqueue_due(context.settings, context.db, queue) >= 1  # the database is shared by tests
    keys = Keys(context.settings.redis_prefix)
    assert keys.pop3_job_id(due) in queue.job_ids
    assert keys.pop3_job_id(later) not in queue.job_ids
    assert keys.pop3_job_id(paused) not in queue.job_ids


def test_server_without_uidl(
    signed_in: TestClient, services: DevServices, source: Source, context: FetchContext, mail_user: MailUser
) -> None:
    box = Mailbox([source_message(i, message_id=i != 1) for i in range(3)])
    with tiny_pop3(box) as port:
        account_id = add_account(
            signed_in, services, source, port=str(port), username="user", password="pass"
        )
        assert fetch(context, account_id).imported == 3
        box.messages.append(source_message(7))
        second = fetch(context, account_id)
        assert (second.outcome, second.imported) == ("ok", 1)  # the header hashes stood in for UIDL
    assert len(imported(services, mail_user)) == 4


def test_master_user_needs_no_stored_password(
    services: DevServices, database_url: str, mail_user: MailUser, source: Source
) -> None:
    settings = make_settings(
        services,
        database_url,
        imap_master_user=services.dovecot.master_user,
        imap_master_password=services.dovecot.master_password,
    )
    source.put(source_message(1))
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert sign_in(client, mail_user).status_code == 303
        assert "operator set up" in client.get("/settings/accounts/new").text
        account_id = add_account(client, services, source, consent="")
    engine = create_db_engine(database_url)
    redis = Redis.from_url(settings.redis_url)
    try:
        context = FetchContext(settings, create_sessionmaker(engine), redis)
        assert fetch(context, account_id).imported == 1
        with context.db() as session:
            user = session.scalars(select(User).where(User.login == mail_user.username)).one()
            assert user.imap_credential is None
    finally:
        redis.close()
        engine.dispose()
    assert len(imported(services, mail_user)) == 1


def test_sign_in_refreshes_the_stored_password(
    signed_in: TestClient, services: DevServices, source: Source, context: FetchContext, mail_user: MailUser
) -> None:
    account_id = add_account(signed_in, services, source)
    services.dovecot.add_user(mail_user.username, "a-new-password")
    source.put(source_message(1))
    failed = fetch(context, account_id)
    assert (failed.outcome, failed.kind) == ("error", "imap_auth")
    signed_in.cookies.clear()
    assert sign_in(signed_in, MailUser(mail_user.username, "a-new-password")).status_code == 303
    assert fetch(context, account_id).imported == 1


def test_unticking_consent_or_removing_the_last_account_forgets_the_password(
    signed_in: TestClient, services: DevServices, source: Source, context: FetchContext, mail_user: MailUser
) -> None:
    account_id = add_account(signed_in, services, source)

    def stored() -> bytes | None:
        with context.db() as session:
            return session.scalars(select(User.imap_credential).where(User.login == mail_user.username)).one()

    assert stored()
    page = signed_in.get(f"/settings/accounts/{account_id}/delete")
    assert "Stop fetching" in page.text
    response = signed_in.post(
        f"/settings/accounts/{account_id}/delete", data={"csrf_token": session_token(signed_in)}
    )
    assert response.status_code == 303
    assert stored() is None
    assert signed_in.get(f"/settings/accounts/{account_id}").status_code == 404
