"""Auto-archive rules against Dovecot: exactly the messages older than N days by INTERNALDATE,
starred ones skipped, the preview's count, Undo of the last run, the typed confirmation for
deleting for good, Run now and the daily schedule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis

from tests.conftest import LOCAL_CLIENT, MailUser, flash_after, make_settings, session_token, sign_in
from webmail.app import create_app
from webmail.archive.jobs import enqueue_due, queue_for, run_rule
from webmail.config import Settings
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.redis import Keys

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
def settings(services: DevServices, database_url: str) -> Settings:
    # The worker logs in as the user through Dovecot's master user.
    return make_settings(
        services, database_url,
        imap_master_user=services.dovecot.master_user, imap_master_password=services.dovecot.master_password,
    )  # fmt: skip


@pytest.fixture
def app(settings: Settings, mail_user: MailUser) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as client:
        assert sign_in(client, mail_user).status_code == 303
        yield client


@pytest.fixture
def imap(services: DevServices, mail_user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    client.normalise_times = False
    yield client
    client.logout()


def put(imap: IMAPClient, subject: str, days_ago: int, flags: list[bytes], folder: str = "INBOX") -> None:
    raw = f"From: a@example.org\r\nSubject: {subject}\r\n\r\n{subject} ".encode() + b"z" * 1000 + b"\r\n"
    imap.append(folder, raw, flags=flags, msg_time=NOW - timedelta(days=days_ago))


def subjects(imap: IMAPClient, folder: str) -> list[str]:
    if not imap.folder_exists(folder):
        return []
    imap.select_folder(folder, readonly=True)
    uids = imap.search(["ALL"])
    rows = imap.fetch(uids, ["ENVELOPE"]) if uids else {}
    return sorted(rows[uid][b"ENVELOPE"].subject.decode() for uid in rows)


def fill(imap: IMAPClient) -> None:
    put(imap, "old read", 400, [b"\\Seen"])
    put(imap, "old unread", 380, [])
    put(imap, "old starred", 500, [b"\\Seen", b"\\Flagged"])
    put(imap, "just under", 364, [b"\\Seen"])
    put(imap, "new", 3, [])


def rule_form(app: TestClient, **changes: str) -> dict[str, str]:
    form = {"csrf_token": session_token(app), "folder": "INBOX", "older_than_days": "365",
            "skip_starred": "on", "action": "archive", "layout": "year", "do": "save"}  # fmt: skip
    form.update(changes)
    return {key: value for key, value in form.items() if value != ""}


def saved_rule(app: TestClient, **changes: str) -> int:
    response = app.post("/settings/archive", data=rule_form(app, **changes))
    assert response.status_code == 303, response.text
    page = app.get("/settings/archive").text
    ids = re.findall(r'data-rule="(\d+)"', page)
    assert ids
    return int(ids[-1])


def run(settings: Settings, rule_id: int) -> int:
    """The worker's job, run here: how many messages the rule took."""
    engine = create_db_engine(settings.database_url)
    try:
        return run_rule(settings, create_sessionmaker(engine), rule_id).count
    finally:
        engine.dispose()


def test_preview_counts_what_the_rule_would_take(app: TestClient, imap: IMAPClient) -> None:
    fill(imap)
    page = app.post("/settings/archive", data=rule_form(app, do="preview")).text
    found = re.search(r'data-preview-count="(\d+)" data-preview-size="(\d+)"', page)
    assert found, page
    assert found.group(1) == "2"
    imap.select_folder("INBOX", readonly=True)
    rows = imap.fetch(imap.search(["ALL"]), ["RFC822.SIZE", "ENVELOPE"]).values()
    old = [row[b"RFC822.SIZE"] for row in rows if row[b"ENVELOPE"].subject in (b"old read", b"old unread")]
    assert int(found.group(2)) == sum(old)
    assert "Right now this would move to the Archive <strong>2 messages</strong>" in page
    assert "No rules yet." in page  # a preview saves nothing


def test_run_moves_exactly_the_old_unstarred_messages_and_undo_brings_them_back(
    app: TestClient, imap: IMAPClient, settings: Settings
) -> None:
    fill(imap)
    rule_id = saved_rule(app)
    assert run(settings, rule_id) == 2
    assert subjects(imap, "INBOX") == ["just under", "new", "old starred"]
    years = {(NOW - timedelta(days=400)).year, (NOW - timedelta(days=380)).year}
    archived = [s for year in sorted(years) for s in subjects(imap, f"Archive/{year}")]
    assert sorted(archived) == ["old read", "old unread"]
    page = app.get("/settings/archive").text
    assert "2 messages archived." in page
    assert "Undo last run" in page
    undone = app.post(f"/settings/archive/{rule_id}/undo", data={"csrf_token": session_token(app)})
    assert flash_after(app, undone) == "Undone: 2 messages back in INBOX."
    assert subjects(imap, "INBOX") == ["just under", "new", "old read", "old starred", "old unread"]
    assert "Undo last run" not in app.get("/settings/archive").text


def test_only_read_and_starred_included(app: TestClient, imap: IMAPClient, settings: Settings) -> None:
    fill(imap)
    rule_id = saved_rule(app, only_read="on", skip_starred="", action="trash")
    run(settings, rule_id)
    assert subjects(imap, "Trash") == ["old read", "old starred"]


def test_deleting_for_good_needs_the_typed_word(
    app: TestClient, imap: IMAPClient, settings: Settings
) -> None:
    fill(imap)
    refused = app.post("/settings/archive", data=rule_form(app, action="delete"))
    assert refused.status_code == 422
    assert "type “delete” to save it" in refused.text
    assert "No rules yet." in refused.text
    rule_id = saved_rule(app, action="delete", confirm="delete")
    run(settings, rule_id)
    assert subjects(imap, "INBOX") == ["just under", "new", "old starred"]
    assert subjects(imap, "Trash") == []
    assert "Undo last run" not in app.get("/settings/archive").text


def test_run_now_and_the_daily_schedule_queue_the_rule(app: TestClient, settings: Settings) -> None:
    rule_id = saved_rule(app)
    redis = Redis.from_url(settings.redis_url)
    queue = queue_for(settings, redis)
    job_id = Keys(settings.redis_prefix).archive_job_id(rule_id)
    try:
        response = app.post(f"/settings/archive/{rule_id}/run", data={"csrf_token": session_token(app)})
        assert flash_after(app, response) == "The rule runs now in the background; reload for its result."
        assert job_id in queue.job_ids
        again = app.post(f"/settings/archive/{rule_id}/run", data={"csrf_token": session_token(app)})
        assert flash_after(app, again) == "This rule is running already."
        queue.empty()
        engine = create_db_engine(settings.database_url)
        db = create_sessionmaker(engine)
        assert enqueue_due(settings, db, queue) >= 1  # never ran: due
        queue.empty()
        run_rule(settings, db, rule_id)
        assert job_id not in queue.job_ids
        enqueue_due(settings, db, queue)
        assert job_id not in queue.job_ids  # ran today: not due again
        engine.dispose()
    finally:
        queue.empty()
        redis.close()


def test_rules_of_others_are_not_found(app: TestClient) -> None:
    response = app.post("/settings/archive/999999/run", data={"csrf_token": session_token(app)})
    assert response.status_code == 404
