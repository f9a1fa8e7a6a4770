"""Benchmark: importing a POP3 mailbox through the fetch job against a bare copy loop.

The baseline, measured in the same run on the same messages, is the least any importer does:
one POP3 session that RETRs every message and APPENDs it to IMAP, with no duplicate check, no
bookkeeping and no deletion. The job adds per message what makes it crash-safe: a Message-ID
SEARCH in the target folder, one database commit for the UIDL, and (here) DELE after storing.
Prints messages per second of each and the ratio (job time / baseline time).

Run: .venv/bin/python bench/pop3.py [--messages 1000] [--size 8000]
"""

from __future__ import annotations

import argparse
import poplib
import sys
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.test_pop3 import source_message
from webmail.auth.background import seal_password
from webmail.config import load_settings
from webmail.db.migrate import upgrade
from webmail.db.models import POP3Account
from webmail.db.repos import UserRepository
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.pop3.jobs import FetchContext, fetch
from webmail.pop3.vault import seal_password as seal_pop3_password


def fill(services: DevServices, user: str, password: str, messages: list[bytes]) -> None:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user, password)
    for start in range(0, len(messages), 500):
        client.multiappend("INBOX", messages[start : start + 500])
    client.logout()


def baseline(services: DevServices, source: str, target: str, password: str) -> float:
    started = time.perf_counter()
    pop = poplib.POP3("127.0.0.1", services.dovecot.pop3_port)
    pop.user(source)
    pop.pass_(password)
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(target, password)
    imap.create_folder("Copied")
    count = pop.stat()[0]
    for number in range(1, count + 1):
        _, lines, _ = pop.retr(number)
        imap.append("Copied", b"\r\n".join(lines) + b"\r\n")
    pop.quit()
    imap.logout()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=8000)
    args = parser.parse_args()
    messages = [source_message(i, size=args.size) for i in range(args.messages)]
    with DevServices() as services, tempfile.TemporaryDirectory() as folder:
        password = "bench-pw"
        users = [services.dovecot.new_user(password) for _ in range(4)]
        base_source, base_target, job_source, job_target = users
        fill(services, base_source, password, messages)
        fill(services, job_source, password, messages)
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        settings = load_settings(
            secret_key="b" * 48, imap_port=services.dovecot.imap_port, imap_security="none",
            redis_url=services.redis.url, database_url=url, pop3_batch_messages=args.messages,
            pop3_allowed_hosts=["127.0.0.1"], pop3_allowed_ports=[str(services.dovecot.pop3_port)],
        )  # fmt: skip
        engine = create_db_engine(url)
        db = create_sessionmaker(engine)
        with db.begin() as session:
            user = UserRepository(session).get_or_create(job_target, "127.0.0.1")
            user.imap_credential = seal_password(settings, user, password)
            account = POP3Account(user_id=user.id, host="127.0.0.1", port=services.dovecot.pop3_port,
                                  security="none", username=job_source, password_encrypted=b"", folder="Imported",
                                  leave_on_server=False, only_new=False, mark_read=False, interval_minutes=15,
                                  enabled=True, has_run=False)  # fmt: skip
            session.add(account)
            session.flush()
            seal_pop3_password(settings, account, password)
            account_id = account.id

        copy_seconds = baseline(services, base_source, base_target, password)
        redis = Redis.from_url(settings.redis_url)
        started = time.perf_counter()
        outcome = fetch(FetchContext(settings, db, redis), account_id)
        job_seconds = time.perf_counter() - started
        redis.close()
        engine.dispose()
        assert outcome.imported == args.messages, outcome
        n = args.messages
        print(f"{n} messages of ~{args.size // 1000} KB")
        print(
            f"  bare copy (RETR + APPEND):              {copy_seconds:6.2f} s  {n / copy_seconds:7.0f} msg/s"
        )
        print(
            f"  fetch job (+ dedup, commit, DELE):       {job_seconds:6.2f} s  {n / job_seconds:7.0f} msg/s"
        )
        print(f"  ratio job / bare copy:                   {job_seconds / copy_seconds:6.2f}x")


if __name__ == "__main__":
    main()
