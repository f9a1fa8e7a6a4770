"""Benchmark: searching the 50,000-message mailbox through the app against raw imapclient.

Prints median and p95 of a subject search, a sender search and a body search (search plus the
first page of hits, the page cache emptied each time) next to raw SEARCH + FETCH on a warm
connection; the next page of the same search (no second SEARCH); and for an all-folders search
over 20 folders, when the first results arrive against when the last folder is done.

Run: .venv/bin/python bench/search.py [--messages 50000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis as SyncRedis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reading import PASSWORD, USER, line, measure, small, write_maildir
from webmail.app import create_app
from webmail.config import load_settings
from webmail.db.migrate import upgrade
from webmail.devservices import DevServices
from webmail.imap.messages import SUMMARY_ITEMS

ITEMS = f"({' '.join(SUMMARY_ITEMS)})"


def write_folders(services: DevServices, folders: int, per_folder: int) -> None:
    home = services.dovecot.root / "mail" / USER / "Maildir"
    for f in range(folders):
        folder = home / f".Folder{f:02d}"
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for i in range(per_folder):
            raw = small(f * per_folder + i)
            (folder / "cur" / f"{1700000000 + i}.M{f}x{i}P1.bench,S={len(raw)}:2,S").write_bytes(raw)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in [home, *home.rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with DevServices() as services:
        services.dovecot.add_user(USER, PASSWORD)
        write_maildir(services, args.messages)
        write_folders(services, 20, 300)
        raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        raw.login(USER, PASSWORD)
        raw.select_folder("INBOX")
        database_url = f"sqlite:///{services.root / 'bench.db'}"
        upgrade(database_url)
        env = {k.removeprefix("WEBMAIL_").lower(): v for k, v in services.env().items()}
        settings = load_settings(**env, database_url=database_url, secret_key=secrets.token_urlsafe(48))
        cache = SyncRedis.from_url(settings.redis_url)
        with TestClient(create_app(settings), follow_redirects=False) as client:
            token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
            client.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": token})
            client.get("/mail/INBOX")

            def cold(path: str) -> Callable[[], object]:
                def work() -> object:
                    keys = list(cache.scan_iter(f"{settings.redis_prefix}:page:*"))
                    if keys:
                        cache.delete(*keys)
                    response = client.get(path)
                    assert response.status_code == 200
                    return response

                return work

            def raw_search(criteria: list[object], page: int) -> Callable[[], object]:
                def work() -> object:
                    raw.noop()
                    uids = sorted(raw.search(criteria), reverse=True)[(page - 1) * 50 : page * 50]
                    if not uids:
                        return []
                    return raw.fetch(uids, list(SUMMARY_ITEMS))

                return work

            cases = [
                ("subject word", "subject:newsletter", ["SUBJECT", "newsletter"]),
                ("sender", "from:sender7@example.org", ["FROM", "sender7@example.org"]),
                ("body word", "body:newsletter", ["BODY", "newsletter"]),
            ]
            for name, q, criteria in cases:
                line(f"{name} + first page", measure(cold(f"/mail/INBOX?q={q}"), args.rounds),
                     measure(raw_search(criteria, 1), args.rounds))  # fmt: skip
            client.get("/mail/INBOX?q=from:sender7@example.org")
            line("next page of the same search", measure(lambda: client.get("/mail/INBOX?q=from:sender7@example.org&page=2"), args.rounds),
                 measure(raw_search(["FROM", "sender7@example.org"], 2), args.rounds))  # fmt: skip

            # All folders: first streamed result against the last folder finishing.
            firsts, lasts = [], []
            for _ in range(3):
                keys = list(cache.scan_iter(f"{settings.redis_prefix}:page:*"))
                if keys:
                    cache.delete(*keys)
                started = time.perf_counter()
                first = None
                with client.stream("GET", "/search/stream?q=number&scope=all") as response:
                    for text in response.iter_lines():
                        if text.startswith("event: result") and first is None:
                            first = time.perf_counter() - started
                        if text.startswith("event: done"):
                            break
                firsts.append((first or 0) * 1000)
                lasts.append((time.perf_counter() - started) * 1000)
            print(f"all folders (21 folders, {args.messages + 6000:,} messages): first results after "
                  f"{min(firsts):.0f}-{max(firsts):.0f} ms, last folder done after {min(lasts):.0f}-{max(lasts):.0f} ms")  # fmt: skip
        raw.logout()


if __name__ == "__main__":
    main()
