"""POP3 fetches in real processes: SIGKILL at random points, and two `webmail worker`s."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis
from sqlalchemy import select

from tests.conftest import MailUser, fresh_database, make_settings, process_env
from tests.integration.test_pop3 import source_message
from tests.integration.test_pop3_accounts import Source, add_account
from webmail.config import Settings
from webmail.db.models import POP3Run
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.pop3.jobs import enqueue_fetch, job_queue
from webmail.redis import Keys

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """These tests run `webmail worker`, which serves everything due in its database."""
    return fresh_database(tmp_path_factory)


@pytest.fixture
def settings(services: DevServices, database_url: str) -> Settings:
    return make_settings(services, database_url, imap_lease_seconds=2)


@pytest.fixture
def source(services: DevServices) -> Source:
    return Source(MailUser(services.dovecot.new_user("pw-source"), "pw-source"), services)


def message_ids(services: DevServices, user: MailUser, folder: str) -> list[bytes]:
    """The Message-ID of every message in the folder (duplicates show up twice)."""
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    try:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        if not uids:
            return []
        rows = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        found = []
        for row in rows.values():
            match = MESSAGE_ID.search(row[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"])
            assert match, "every test message has a Message-ID"
            found.append(match.group(1))
        return found
    finally:
        client.logout()


def ids_of(messages: list[bytes]) -> list[bytes]:
    return [MESSAGE_ID.search(raw).group(1) for raw in messages]  # type: ignore[union-attr]


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    signed_in: TestClient, services: DevServices, source: Source, mail_user: MailUser, settings: Settings
) -> None:
    account_id = add_account(signed_in, services, source, leave_on_server="")
    redis = Redis.from_url(settings.redis_url)
    keys = Keys(settings.redis_prefix)
    rng = random.Random(20261126)  # noqa: S311 - timing, not security
    put: list[bytes] = []
    killed_mid_run = 0
    env = process_env(settings)
    job = f"from webmail.pop3.jobs import run_job; run_job({account_id})"
    try:
        for _ in range(20):
            batch = [source_message(len(put) + i, size=rng.choice([0, 2000, 60_000])) for i in range(6)]
            source.put(*batch)
            put += ids_of(batch)
            process = subprocess.Popen([sys.executable, "-c", job], env=env, start_new_session=True)
            # Once the run is importing (its progress is in Redis), kill it a random moment later.
            deadline = time.monotonic() + 20
            while process.poll() is None and time.monotonic() < deadline:
                if redis.exists(keys.pop3_progress(account_id)):
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.2))
            if process.poll() is None:
                killed_mid_run += 1
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            redis.delete(keys.pop3_lock(account_id))  # stands in for the lock's lease running out
            stored = message_ids(services, mail_user, "Imported")
            on_server = set(message_ids(services, source.user, "INBOX"))
            assert not [mid for mid, n in Counter(stored).items() if n > 1], "a message was stored twice"
            assert set(put) - on_server <= set(stored), "a message left the POP3 server before it was stored"
        final = subprocess.run([sys.executable, "-c", job], env=env, timeout=120, check=False)
        assert final.returncode == 0
    finally:
        redis.close()
    assert killed_mid_run >= 5, "the kills should land in the middle of runs"
    stored = message_ids(services, mail_user, "Imported")
    assert sorted(stored) == sorted(put)  # every message exactly once
    assert message_ids(services, source.user, "INBOX") == []  # and then deleted from the POP3 server


def test_two_workers_never_fetch_one_account_at_once(
    signed_in: TestClient, services: DevServices, mail_user: MailUser, settings: Settings, tmp_path: Path
) -> None:
    sources = [Source(MailUser(services.dovecot.new_user("pw-s"), "pw-s"), services) for _ in range(3)]
    expected: list[bytes] = []
    accounts = []
    for n, source in enumerate(sources):
        batch = [source_message(100 * n + i, size=4000) for i in range(15)]
        source.put(*batch)
        expected += ids_of(batch)
        accounts.append(add_account(signed_in, services, source, leave_on_server=""))
    env = process_env(settings)
    workers = []
    for n in range(2):
        log = open(tmp_path / f"worker{n}.log", "wb")
        workers.append(
            (
                subprocess.Popen(
                    [sys.executable, "-m", "webmail.cli", "worker"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                log,
            )  # fmt: skip
        )
    redis = Redis.from_url(settings.redis_url)
    queue = job_queue(settings, redis)
    try:
        deadline = time.monotonic() + 90
        while len(message_ids(services, mail_user, "Imported")) < len(expected):
            assert time.monotonic() < deadline, (tmp_path / "worker0.log").read_text()
            for account_id in accounts:  # "Fetch now" pressed again and again
                enqueue_fetch(settings, queue, account_id)
            time.sleep(0.3)
        time.sleep(1)
    finally:
        for process, log in workers:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)
            log.close()
        redis.close()
    assert sorted(message_ids(services, mail_user, "Imported")) == sorted(expected)
    engine = create_db_engine(settings.database_url)
    with create_sessionmaker(engine)() as session:
        for account_id in accounts:
            runs = sorted(
                session.scalars(select(POP3Run).where(POP3Run.account_id == account_id)),
                key=lambda run: run.started_at,
            )
            assert runs
            for earlier, later in zip(runs, runs[1:], strict=False):
                assert earlier.finished_at is not None
                assert earlier.finished_at <= later.started_at, "two runs of one account overlapped"
    engine.dispose()


def test_fetch_now_while_the_last_run_ends_is_no_error(settings: Settings) -> None:
    """The run's job found, then gone before its status is read (a finished job's hash goes at
    once): "Fetch now" answers as for a fetch under way, never with an error."""
    redis = Redis.from_url(settings.redis_url)
    queue = job_queue(settings, redis)
    account_id = 999_001
    assert enqueue_fetch(settings, queue, account_id) is True
    job_key = f"rq:job:{Keys(settings.redis_prefix).pop3_job_id(account_id)}"
    redis.hdel(job_key, "status")  # the state between Job.fetch and get_status of an ending run
    try:
        assert enqueue_fetch(settings, queue, account_id) is False
    finally:
        redis.delete(job_key)
        queue.empty()
        redis.close()
