"""Benchmark: export and import through `webmail serve` against a bare imapclient loop.

Also the background export (what `webmail worker` runs, here in this process).
The baselines, measured in the same run on the same messages, are the least any exporter or
importer does over IMAP: UID FETCH BODY.PEEK[] in batches of 200 on a warm connection (the bytes
counted, not written anywhere), and one APPEND per message with its flags and date. The app
adds the HTTP request, mboxrd quoting or zip (deflate level 1) framing, reading the uploaded
file back, and for import the Message-ID check against the folder.
Prints messages/s and MB/s of each and the ratio (app time / baseline time).

Run: .venv/bin/python bench/transfer.py [--messages 2000] [--size 20000]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from imapclient import IMAPClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster import signed_in_client, start_server, stop_server
from webmail.config import load_settings
from webmail.db.migrate import upgrade
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.exports.files import ExportKind
from webmail.exports.jobs import files_of, run_export

MB = 1024 * 1024


def message(i: int, size: int) -> bytes:
    head = (
        f"From: Sender {i} <s{i}@example.org>\r\nTo: you@example.test\r\nSubject: Bench message {i}\r\n"
        f"Message-ID: <bench{i}.{os.getpid()}@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n"
    ).encode()
    words = b"From time to time the quick brown fox jumps over the lazy dog; a line of text. "
    line = words[:76] + b"\r\n"
    return head + line * max(1, size // len(line))


def imap(services: DevServices, user: str, password: str) -> IMAPClient:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user, password)
    return client


def report(name: str, seconds: float, count: int, size: int, baseline: float | None = None) -> None:
    ratio = f"  ratio {seconds / baseline:5.2f}" if baseline else ""
    print(
        f"{name:<28} {seconds:7.2f} s  {count / seconds:8.0f} msg/s  {size / MB / seconds:7.1f} MB/s{ratio}"
    )


def background_export(services: DevServices, folder: Path, user: str, kind: ExportKind) -> float:
    """What `webmail worker` does for a background export (master-user login, chunks written
    and fsynced to the data folder), run here; its seconds."""
    env = {key.removeprefix("WEBMAIL_").lower(): value for key, value in services.env().items()}
    settings = load_settings(
        **env, database_url=f"sqlite:///{folder / 'bench-exports.db'}", export_dir=folder / f"exports-{kind}",
        redis_prefix=f"b{os.getpid()}", secret_key="bench-" * 8,
        imap_master_user=services.dovecot.master_user, imap_master_password=services.dovecot.master_password,
    )  # fmt: skip
    upgrade(settings.database_url)
    job = files_of(settings, user).create("INBOX", kind, f"INBOX.{kind}", "", "")
    engine = create_db_engine(settings.database_url)
    try:
        started = time.perf_counter()
        done = run_export(settings, create_sessionmaker(engine), user, job.id)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    assert done is not None
    assert done.state == "ready", done
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=20000)
    args = parser.parse_args()
    raws = [message(i, args.size) for i in range(args.messages)]
    total = sum(len(raw) for raw in raws)
    with DevServices() as services, tempfile.TemporaryDirectory() as folder:
        password = "bench"
        user = services.dovecot.new_user(password)
        client = imap(services, user, password)
        for start in range(0, len(raws), 500):
            client.multiappend("INBOX", raws[start : start + 500])
        client.create_folder("Baseline")
        client.create_folder("Imported")
        server = start_server(services, Path(folder), workers=1)
        try:
            print(f"{args.messages} messages, {total / MB:.1f} MB; load average {os.getloadavg()[0]:.2f}")
            # ---- export
            started = time.perf_counter()
            client.select_folder("INBOX", readonly=True)
            uids = client.search(["ALL"])
            fetched = 0
            for start in range(0, len(uids), 200):
                rows = client.fetch(uids[start : start + 200], ["BODY.PEEK[]"])
                fetched += sum(len(row[b"BODY[]"]) for row in rows.values())
            base_export = time.perf_counter() - started
            assert fetched == total
            report("baseline FETCH loop", base_export, len(uids), total)
            with signed_in_client(server.url, user, password) as web:
                mbox = bytearray()
                for kind in ("mbox", "zip"):
                    started = time.perf_counter()
                    size = 0
                    with web.stream(
                        "GET", "/mail/INBOX/export", params={"format": kind}, timeout=600
                    ) as response:
                        assert response.status_code == 200
                        for chunk in response.iter_bytes():
                            size += len(chunk)
                            if kind == "mbox":
                                mbox += chunk
                    report(
                        f"export {kind} ({size / MB:.0f} MB)",
                        time.perf_counter() - started,
                        len(uids),
                        total,
                        base_export,
                    )
                background: tuple[ExportKind, ...] = ("mbox", "zip")
                for kind in background:
                    seconds = background_export(services, Path(folder), user, kind)
                    report(f"background export {kind}", seconds, len(uids), total, base_export)
                # ---- import
                when = datetime(2026, 1, 1, tzinfo=UTC)
                started = time.perf_counter()
                for i, raw in enumerate(raws):
                    client.append("Baseline", raw, flags=[b"\\Seen"], msg_time=when + timedelta(minutes=i))
                base_import = time.perf_counter() - started
                report("baseline APPEND loop", base_import, len(raws), total)
                token = re.search(r'"X-CSRF-Token": "([^"]+)"', web.get("/mail/INBOX").text)
                assert token
                started = time.perf_counter()
                response = web.post(
                    "/mail/Imported/import",
                    files={"file": ("INBOX.mbox", bytes(mbox), "application/mbox")},
                    data={"csrf_token": token.group(1)},
                    timeout=600,
                )
                seconds = time.perf_counter() - started
                assert f'data-imported="{len(raws)}"' in response.text, response.text[-2000:]
                report("import mbox", seconds, len(raws), total, base_import)
        finally:
            stop_server(server)
            client.logout()


if __name__ == "__main__":
    main()
