"""Benchmark: the signed-in mailbox page (folder pane with counts) against raw IMAP.

Seeds the demo mailbox into a private Dovecot, then measures in one run:
  raw   - LIST-STATUS on one warm imapclient connection (the floor)
  app   - GET /mail/INBOX through the app (session, pooled connection, LIST-STATUS, template)
and prints medians, p95 and the ratio app/raw. Run: .venv/bin/python bench/folder_pane.py
"""

from __future__ import annotations

import secrets
import statistics
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from imapclient import IMAPClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reading import measure
from webmail.app import create_app
from webmail.config import load_settings
from webmail.db.migrate import upgrade
from webmail.devservices import DevServices
from webmail.devservices.seed import DEMO_USERS, seed_user
from webmail.imap.folders import list_folders

ROUNDS = 200


def summary(name: str, timings: list[float]) -> float:
    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"{name:<28} median {median:7.2f} ms   p95 {p95:7.2f} ms")
    return median


def main() -> None:
    with DevServices() as services:
        user, password = DEMO_USERS[0]
        services.dovecot.add_user(user, password)
        raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        raw.login(user, password)
        seed_user(raw, ("Demo User", user), count=160)

        database_url = f"sqlite:///{services.root / 'bench.db'}"
        upgrade(database_url)
        settings = load_settings(
            **{k.removeprefix("WEBMAIL_").lower(): v for k, v in services.env().items()},
            database_url=database_url,
            secret_key=secrets.token_urlsafe(48),
        )
        with TestClient(create_app(settings), follow_redirects=False) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            response = client.post(
                "/login", data={"username": user, "password": password, "csrf_token": token}
            )
            assert response.status_code == 303, response.text

            raw_median = summary("raw LIST-STATUS (warm)", measure(lambda: list_folders(raw), ROUNDS))
            app_median = summary("app GET /mail/INBOX", measure(lambda: client.get("/mail/INBOX"), ROUNDS))
        print(f"ratio app/raw (median): {app_median / raw_median:.2f}x")
        raw.logout()


if __name__ == "__main__":
    main()
