"""Background exports against Dovecot: queued from the page, written in chunks to the data
folder, resumed by a fresh `webmail worker` after a run died mid-chunk (its queued job lost and
its lock lapsed), the same bytes as the streamed download, owned by their user, deleted after
the retention time."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis
from rq import Queue

from tests.conftest import (
    LOCAL_CLIENT,
    MailUser,
    flash_after,
    fresh_database,
    make_settings,
    process_env,
    session_token,
    sign_in,
)
from webmail.app import create_app
from webmail.config import Settings
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.exports import jobs
from webmail.exports.files import ExportFiles, ExportJob, sweep
from webmail.redis import Keys

pytestmark = pytest.mark.integration
MESSAGES = jobs.CHUNK_MESSAGES + 40  # two chunks


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return fresh_database(tmp_path_factory)  # a `webmail worker` runs on it


@pytest.fixture
def settings(services: DevServices, database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        services, database_url, export_dir=tmp_path / "exports",
        imap_master_user=services.dovecot.master_user, imap_master_password=services.dovecot.master_password,
    )  # fmt: skip


@pytest.fixture
def app(settings: Settings, mail_user: MailUser) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as client:
        assert sign_in(client, mail_user).status_code == 303
        yield client


@pytest.fixture
def filled(services: DevServices, mail_user: MailUser) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    for i in range(MESSAGES):
        body = f"From: s{i}@example.org\r\nSubject: number {i}\r\n\r\nFrom here on\r\n>From there {i}\r\n"
        imap.append("INBOX", body.encode() + b"x" * (i % 7 * 300), flags=[b"\\Seen"] if i % 3 else [])
    imap.logout()


@pytest.fixture
def files(settings: Settings, mail_user: MailUser) -> ExportFiles:
    return jobs.files_of(settings, mail_user.username)


def start(app: TestClient, files: ExportFiles, kind: str) -> ExportJob:
    response = app.post("/mail/INBOX/export", data={"csrf_token": session_token(app), "format": kind})
    assert response.headers["location"] == "/settings/storage"
    assert "in the background" in flash_after(app, response)
    page = app.get("/settings/storage").text
    export_id = page.split('data-export-id="', 1)[1].split('"', 1)[0]
    job = files.load(export_id)
    assert job is not None
    return job


def run(settings: Settings, user: str, export_id: str, max_chunks: int | None = None) -> ExportJob | None:
    engine = create_db_engine(settings.database_url)
    try:
        return jobs.run_export(settings, create_sessionmaker(engine), user, export_id, max_chunks=max_chunks)
    finally:
        engine.dispose()


def test_a_run_that_died_mid_chunk_is_resumed_by_a_new_worker(
    app: TestClient, settings: Settings, mail_user: MailUser, files: ExportFiles, filled: None, tmp_path: Path
) -> None:
    job = start(app, files, "mbox")
    assert "waiting for its turn" in app.get("/settings/storage").text
    partial = run(settings, mail_user.username, job.id, max_chunks=1)
    assert partial is not None
    assert (partial.state, partial.position, partial.total) == ("running", jobs.CHUNK_MESSAGES, MESSAGES)
    assert f"exporting {jobs.CHUNK_MESSAGES} of {MESSAGES} messages" in app.get("/settings/storage").text
    # The run died while writing its next chunk: bytes after the checkpoint, its rq job gone
    # with the worker; its lock lapsed.
    with open(files.part(job.id), "ab") as out:
        out.write(b"From half@example.org a message cut short\n")
    redis = Redis.from_url(settings.redis_url)
    keys = Keys(settings.redis_prefix)
    Queue(keys.jobs_queue(), connection=redis).empty()
    redis.delete(keys.export_queued(job.id))
    log = open(tmp_path / "worker.log", "wb")
    env = process_env(
        settings, WEBMAIL_EXPORT_DIR=str(settings.export_dir),
        WEBMAIL_IMAP_MASTER_USER=settings.imap_master_user,
        WEBMAIL_IMAP_MASTER_PASSWORD=settings.imap_master_password.get_secret_value(),
    )  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "webmail.cli", "worker"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (current := files.load(job.id)) is None or current.state != "ready":
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)
        log.close()
        redis.close()
    assert current.written == MESSAGES
    page = app.get("/settings/storage").text
    assert f'href="/settings/storage/exports/{job.id}"' in page
    assert f"{MESSAGES} messages" in page
    kept = app.get(f"/settings/storage/exports/{job.id}")
    assert kept.status_code == 200
    assert kept.headers["content-disposition"].startswith('attachment; filename="INBOX.mbox"')
    assert kept.content == app.get("/mail/INBOX/export?format=mbox").content  # byte for byte
    assert not files.part(job.id).exists()


def test_zip_in_two_runs_is_the_streamed_zip(
    app: TestClient, settings: Settings, mail_user: MailUser, files: ExportFiles, filled: None
) -> None:
    job = start(app, files, "zip")
    assert run(settings, mail_user.username, job.id, max_chunks=1) is not None
    with open(files.part(job.id), "ab") as out:
        out.write(b"PK\x03\x04 half an entry")
    assert files.directory(job.id).stat().st_size == files.load(job.id).directory_offset  # type: ignore[union-attr]
    with open(files.directory(job.id), "ab") as sidecar:
        sidecar.write(b'{"filename": "from the run that died"}\n')
    done = run(settings, mail_user.username, job.id)
    assert done is not None
    assert done.state == "ready"
    assert not files.directory(job.id).exists()
    kept = zipfile.ZipFile(io.BytesIO(app.get(f"/settings/storage/exports/{job.id}").content))
    assert kept.testzip() is None
    streamed = zipfile.ZipFile(io.BytesIO(app.get("/mail/INBOX/export?format=zip").content))
    assert kept.namelist() == streamed.namelist()
    assert len(kept.namelist()) == MESSAGES
    assert [kept.read(name) for name in kept.namelist()] == [streamed.read(n) for n in streamed.namelist()]


def test_exports_are_their_owners_only_and_go_after_the_retention_time(
    app: TestClient, settings: Settings, mail_user: MailUser, files: ExportFiles, services: DevServices
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: mine\r\n\r\nmine\r\n")
    imap.append("INBOX", b"From: b@example.org\r\nSubject: other\r\n\r\nother\r\n")
    imap.logout()
    asked: list[tuple[dict[str, str | list[str]], str]] = [
        ({"q": "subject:other"}, "INBOX search.mbox"),
        ({"uids": "2"}, "INBOX selection.mbox"),
        ({"uid": ["2"], "next": "/mail/INBOX"}, "INBOX selection.mbox"),  # the selection bar's form
        ({"uid": ["1"], "all": "1", "q": "subject:other"}, "INBOX search.mbox"),  # all it shows
    ]
    for fields, name in asked:
        app.post("/mail/INBOX/export", data={"csrf_token": session_token(app), "format": "mbox", **fields})
        chosen = files.jobs()[0]
        done = run(settings, mail_user.username, chosen.id)
        assert done is not None
        assert (done.filename, done.written) == (name, 1)
        assert b"Subject: other" in app.get(f"/settings/storage/exports/{chosen.id}").content
        files.delete(chosen)
    job = start(app, files, "mbox")
    assert app.get(f"/settings/storage/exports/{job.id}").status_code == 409  # not ready yet
    assert run(settings, mail_user.username, job.id) is not None
    assert app.get(f"/settings/storage/exports/{job.id}").status_code == 200
    other = MailUser(services.dovecot.new_user("pw2"), "pw2")
    with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as stranger:
        assert sign_in(stranger, other).status_code == 303
        assert stranger.get(f"/settings/storage/exports/{job.id}").status_code == 404
        assert job.id not in stranger.get("/settings/storage").text
        refused = stranger.post(
            f"/settings/storage/exports/{job.id}/delete", data={"csrf_token": session_token(stranger)}
        )
        assert refused.status_code == 404
    assert app.get("/settings/storage/exports/..%2F..%2Fetc").status_code == 404
    # Kept for the retention time after it was made ready, then deleted by the worker's sweep.
    root = settings.export_dir
    retention = timedelta(hours=settings.export_retention_hours)
    assert sweep(root, retention) == 0
    assert sweep(root, retention, now=datetime.now(UTC) + retention + timedelta(minutes=1)) == 1
    assert app.get(f"/settings/storage/exports/{job.id}").status_code == 404
    assert list(root.iterdir()) == []


def test_delete_and_no_background_login(
    app: TestClient,
    settings: Settings,
    mail_user: MailUser,
    files: ExportFiles,
    services: DevServices,
    database_url: str,
) -> None:
    job = start(app, files, "mbox")
    manifest = files.manifest(job.id).read_text()
    assert mail_user.password not in manifest
    assert json.loads(manifest)["owner"] == mail_user.username
    deleted = app.post(f"/settings/storage/exports/{job.id}/delete", data={"csrf_token": session_token(app)})
    assert "deleted" in flash_after(app, deleted)
    assert files.load(job.id) is None
    assert run(settings, mail_user.username, job.id) is None  # a queued run finds nothing to do
    assert sorted(p.name for p in files.folder.iterdir()) == []
    for _ in range(jobs.MAX_EXPORTS_PER_USER):
        start(app, files, "zip")
    refused = app.post("/mail/INBOX/export", data={"csrf_token": session_token(app), "format": "mbox"})
    assert refused.status_code == 409
    assert "You keep 5 exports already" in refused.text
    plain = make_settings(services, database_url, export_dir=settings.export_dir)  # no master user
    with TestClient(create_app(plain), follow_redirects=False, client=LOCAL_CLIENT) as client:
        assert sign_in(client, mail_user).status_code == 303
        refused = client.post(
            "/mail/INBOX/export", data={"csrf_token": session_token(client), "format": "mbox"}
        )
        assert refused.status_code == 409
        assert "Background" in refused.text


def test_a_run_whose_lock_another_took_stops(settings: Settings, files: ExportFiles) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        run = jobs.Run(settings, redis, files, "x" * 24)
        redis.set(run.lock, run.token, ex=60)
        run.renew()  # its own: kept
        assert redis.ttl(run.lock) > 0
        redis.set(run.lock, "another run", ex=60)  # it stalled, the lock lapsed, another took it
        run.renewed = 0.0
        with pytest.raises(jobs.LockLostError):
            run.renew()
        run.release()
        assert redis.get(run.lock) == b"another run"  # not its to delete
    finally:
        redis.close()
