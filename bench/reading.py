"""Benchmark: reading a 50,000-message mailbox through the app against raw IMAP.

Seeds a private Dovecot by writing Maildir files (not 50,000 APPENDs), then measures in one
run the median and p95 of: first list page, page 500, opening a 100 KB HTML newsletter; each
next to the same IMAP work done directly with imapclient on one warm connection (the floor),
and their ratio. Targets: list pages <= 1.3x the floor; opening the newsletter <= 50 ms.

Run: .venv/bin/python bench/reading.py [--messages 50000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import statistics
import time
from collections.abc import Callable
from email.message import EmailMessage

from fastapi.testclient import TestClient
from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response
from redis import Redis as SyncRedis

from webmail.app import create_app
from webmail.config import load_settings
from webmail.db.migrate import upgrade
from webmail.devservices import DevServices
from webmail.imap.messages import SUMMARY_ITEMS
from webmail.mail.render import build_view
from webmail.mail.structure import layout, parse_bodystructure

USER, PASSWORD = "bench@example.test", "bench"


def newsletter(size: int = 100_000) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Digest <digest@news.example.com>", USER, "The big newsletter"
    msg["Date"] = "Tue, 24 Nov 2026 08:00:00 +0000"
    msg["Message-ID"] = "<big-newsletter@news.example.com>"
    msg.set_content("Plain version of the newsletter.\n" * 100)
    row = (
        '<tr><td style="padding:12px;font-family:Arial;color:#333" valign="top"><h2 style="color:#2456d6">Story</h2>'
        "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>"
        '<img src="https://news.example.com/img.png" width="560" height="200" alt="">'
        '<a href="https://news.example.com/story" style="color:#fff;background:#2456d6;padding:6px">Read more</a></td></tr>'
    )
    rows = row * (size // len(row) + 1)
    html = f'<html><body><table width="600" align="center" cellpadding="0" style="border-collapse:collapse">{rows}</table></body></html>'
    msg.add_alternative(html, subtype="html")
    return bytes(msg)


def small(i: int) -> bytes:
    return (
        f"From: Sender {i % 97} <sender{i % 97}@example.org>\r\nTo: {USER}\r\n"
        f"Subject: Message number {i}\r\nDate: Mon, 2 Mar 2026 10:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <m{i}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello, this is message {i}.\r\n"
    ).encode()


def write_maildir(services: DevServices, count: int, make: Callable[[int], bytes] | None = None) -> None:
    """Write ``count`` messages (``make(i)``, else ``small(i)``) into the user's Maildir; the
    newsletter lands in the middle."""
    home = services.dovecot.root / "mail" / USER / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    now = int(time.time()) - count
    for i in range(count):
        raw = newsletter() if i == count // 2 else (make or small)(i)
        (home / "cur" / f"{now + i}.M{i}P1.bench,S={len(raw)}:2,S").write_bytes(raw)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in [
            services.dovecot.root / "mail" / USER,
            *(services.dovecot.root / "mail" / USER).rglob("*"),
        ]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)


def measure(work: Callable[[], object], rounds: int) -> list[float]:
    for _ in range(3):
        work()
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def line(name: str, app: list[float], raw: list[float] | None) -> None:
    median, p95 = statistics.median(app), statistics.quantiles(app, n=20)[-1]
    text = f"{name:<30} app median {median:7.2f} ms  p95 {p95:7.2f} ms"
    if raw is not None:
        raw_median, raw_p95 = statistics.median(raw), statistics.quantiles(raw, n=20)[-1]
        text += (
            f" | raw median {raw_median:6.2f} ms  p95 {raw_p95:6.2f} ms | ratio {median / raw_median:5.2f}x"
        )
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with DevServices() as services:
        services.dovecot.add_user(USER, PASSWORD)
        started = time.perf_counter()
        write_maildir(services, args.messages)
        raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        raw.login(USER, PASSWORD)
        raw.normalise_times = False
        exists = raw.select_folder("INBOX")[b"EXISTS"]
        print(
            f"seeded {exists} messages in {time.perf_counter() - started:.1f} s (Maildir files + first index)"
        )
        big_uid = raw.search(["SUBJECT", "The big newsletter"])[0]

        database_url = f"sqlite:///{services.root / 'bench.db'}"
        upgrade(database_url)
        env = {k.removeprefix("WEBMAIL_").lower(): v for k, v in services.env().items()}
        settings = load_settings(**env, database_url=database_url, secret_key=secrets.token_urlsafe(48))
        with TestClient(create_app(settings), follow_redirects=False) as client:
            token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
            assert (
                client.post(
                    "/login", data={"username": USER, "password": PASSWORD, "csrf_token": token}
                ).status_code
                == 303
            )

            def raw_page(page: int) -> Callable[[], object]:
                # The floor: a warm connection with INBOX selected; NOOP for changes, FETCH the
                # page's sequence range, parse it (imapclient's parser, as the app does).
                def work() -> object:
                    raw.noop()
                    total = raw.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"]
                    high = total - (page - 1) * 50
                    typ, data = raw._imap.fetch(f"{max(1, high - 49)}:{high}", f"({' '.join(SUMMARY_ITEMS)})")
                    return parse_fetch_response(data, False, False)

                return work

            def raw_open() -> object:
                data = raw.fetch([big_uid], [*SUMMARY_ITEMS, "BODY.PEEK[HEADER]"])[big_uid]
                plan = layout(parse_bodystructure(data[b"BODYSTRUCTURE"]))
                return raw.fetch([big_uid], [f"BODY.PEEK[{part.section}]" for part in plan.body])

            reader = {"HX-Request": "true", "HX-Target": "reader"}

            def app_open() -> object:
                assert client.get(f"/mail/INBOX/{big_uid}", headers=reader).status_code == 200
                return client.get(f"/mail/INBOX/{big_uid}/body")

            def render_only() -> object:
                data = raw.fetch([big_uid], [*SUMMARY_ITEMS, "BODY.PEEK[HEADER]"])[big_uid]
                plan = layout(parse_bodystructure(data[b"BODYSTRUCTURE"]))
                parts = raw.fetch([big_uid], [f"BODY.PEEK[{part.section}]" for part in plan.body])[big_uid]
                contents = {
                    k[5:].split(b"]")[0].decode(): v for k, v in parts.items() if k.startswith(b"BODY[")
                }
                return build_view(
                    data[b"BODY[HEADER]"], plan, contents, cid_url=lambda c: None, allow_remote=False
                )

            cache = SyncRedis.from_url(settings.redis_url)

            def cold(path: str) -> Callable[[], object]:
                # The page cache emptied first: the list comes from IMAP, as on a first visit.
                def work() -> object:
                    keys = list(cache.scan_iter(f"{settings.redis_prefix}:page:*"))
                    if keys:
                        cache.delete(*keys)
                    return client.get(path)

                return work

            rounds = args.rounds
            for name, path, page_number in (
                ("first list page", "/mail/INBOX", 1),
                ("list page 500", "/mail/INBOX?page=500", 500),
            ):
                floor = measure(raw_page(page_number), rounds)
                line(f"{name} (cached)", measure(lambda p=path: client.get(p), rounds), floor)  # type: ignore[misc]
                line(f"{name} (cold)", measure(cold(path), rounds), floor)
            line("open 100 KB newsletter", measure(app_open, rounds), measure(raw_open, rounds))
            line("  fetch+sanitise+render only", measure(render_only, rounds), None)
        raw.logout()


if __name__ == "__main__":
    main()
