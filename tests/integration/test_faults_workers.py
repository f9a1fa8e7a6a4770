"""Fault suite, part two (issue 21): faults that need the app as real `webmail serve` workers.
A worker SIGKILLed in the middle of a request, Redis killed and started again empty, and an
uploads folder with no room (every file the server writes is capped by RLIMIT_FSIZE, so a large
attachment's write fails with EFBIG, as it would with ENOSPC on a full disk).

One private Dovecot and Redis and one two-worker server for the module; Dovecot is reached
through a Tripwire, which holds a chosen request at the IMAP server while its worker is killed.
"""

from __future__ import annotations

import html
import os
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
import redis
from imapclient import IMAPClient

from tests.cluster import CAP, ConnectionWatch, Server, seed, signed_in_client, start_server, stop_server
from tests.conftest import MailUser, sign_in
from tests.faults import Relay, Tripwire, children_of, owner_pid
from tests.integration.test_compose import inbox_of
from webmail.devservices import DevServices
from webmail.redis import Keys

BODY_FETCH = rb"BODY\.PEEK\[1\]"
FILE_SIZE_LIMIT = 512 * 1024  # below the 1 MiB a form's file is kept in memory before it is spooled
WRITTEN = "Words that must not be lost"


@pytest.fixture(scope="module")
def own() -> Iterator[DevServices]:
    """Services of this module alone: Redis is restarted here."""
    with DevServices() as running:
        yield running


@pytest.fixture(scope="module")
def wire(own: DevServices) -> Iterator[Tripwire]:
    tripwire = Tripwire(own.dovecot.imap_port)
    yield tripwire
    tripwire.close()


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="module")
def server(
    own: DevServices, wire: Tripwire, uploads: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    extra = {
        "WEBMAIL_IMAP_PORT": str(wire.port),
        "WEBMAIL_UPLOAD_DIR": str(uploads),
        "WEBMAIL_UNDO_SEND_SECONDS": "0",
    }
    started = start_server(
        own, tmp_path_factory.mktemp("faults"), workers=2, extra=extra, file_size_limit=FILE_SIZE_LIMIT
    )
    yield started
    stop_server(started)


@pytest.fixture
def user(own: DevServices) -> MailUser:
    return MailUser(own.dovecot.new_user("pw-worker"), "pw-worker")


def token_of(client: httpx.Client) -> str:
    page = client.get("/mail/INBOX").text
    return page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]


def holders(r: redis.Redis, server: Server, user: MailUser) -> Counter[int]:
    """Live leases on the user's connections per worker process (``host:pid:xx/token``)."""
    seconds, micros = r.time()
    now_ms = seconds * 1000 + micros // 1000
    keys = Keys(server.prefix)
    live = Counter[int]()
    for lease in r.zrangebyscore(keys.connection_cap(user.username), now_ms, "+inf"):
        holder = lease.decode().split("/")[0]
        if r.exists(keys.lease_holder(holder)):  # a holder that stopped beating holds nothing
            live[int(holder.split(":")[-2])] += 1
    return live


def wait_until(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_worker_killed_mid_request_leaves_the_others_serving_and_frees_its_leases(
    server: Server, own: DevServices, wire: Tripwire, user: MailUser
) -> None:
    uids = seed(own, user.username, user.password, count=5)
    r = redis.Redis.from_url(own.redis.url)
    held, release = threading.Event(), threading.Event()
    ports: list[int] = []

    def hold(relay: Relay) -> None:
        ports.append(relay.client_port)
        held.set()
        release.wait(30)

    outcome: list[object] = []
    try:
        with signed_in_client(server.url, user.username, user.password) as client:
            wire.arm(BODY_FETCH, hold)

            def open_message() -> None:
                with httpx.Client(base_url=server.url, cookies=client.cookies, timeout=30) as tab:
                    try:
                        outcome.append(tab.get(f"/mail/INBOX/{uids[0]}/body"))
                    except httpx.TransportError as exc:
                        outcome.append(exc)

            opening = threading.Thread(target=open_message, daemon=True)
            opening.start()
            assert held.wait(20), "the request never reached the IMAP server"
            victim = owner_pid(ports[0], children_of(server.process.pid))
            assert victim is not None, "no worker holds the held IMAP connection"
            assert victim in holders(r, server, user)
            os.kill(victim, signal.SIGKILL)
            opening.join(20)
            release.set()
            # The request in flight went with its worker (behind nginx: a 502), never a 500.
            assert len(outcome) == 1
            assert isinstance(outcome[0], httpx.TransportError), outcome[0]
            # A browser's keep-alive connection to the dead worker is gone too: new connections.
            with (
                ConnectionWatch(own, user.username) as watch,
                httpx.Client(base_url=server.url, cookies=client.cookies, timeout=30) as browser,
            ):
                for uid in uids:
                    page = browser.get(f"/mail/INBOX/{uid}", headers={"Connection": "close"})
                    assert page.status_code == 200, page.text[:300]
            assert watch.maximum <= CAP
            assert wait_until(lambda: victim not in holders(r, server, user), 15), "its leases outlived it"
    finally:
        release.set()
        wire.disarm()
        r.close()
    assert server.process.poll() is None


def listen_for(client: httpx.Client, lines: list[str]) -> None:
    """The user's live-update stream in a thread; its lines go to ``lines``."""

    def listen() -> None:
        try:
            with client.stream("GET", "/events") as stream:
                for line in stream.iter_lines():
                    lines.append(line)
        except httpx.TransportError:
            pass  # the test is over and closed its client

    threading.Thread(target=listen, daemon=True).start()
    assert wait_until(lambda: ": subscribed" in lines, 15), lines


def deliver(own: DevServices, user: MailUser, subject: str) -> None:
    imap = IMAPClient("127.0.0.1", own.dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    imap.append("INBOX", f"From: b@example.org\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())
    imap.logout()


def test_redis_down_then_back_empty_signs_users_in_again_and_the_cap_and_watcher_recover(
    server: Server, own: DevServices, user: MailUser
) -> None:
    seed(own, user.username, user.password, count=3)
    with signed_in_client(server.url, user.username, user.password) as client:
        assert client.get("/mail/INBOX").status_code == 200
        own.redis.kill()
        down = client.get("/mail/INBOX")
        assert down.status_code == 503, down.text[:300]
        assert "briefly unavailable" in down.text
        assert "default-src" in down.headers["content-security-policy"]
        own.redis.start()  # it kept nothing on disk: sessions, leases and locks are gone
        again = client.get("/mail/INBOX")
        assert again.status_code == 303, again.text[:300]
        assert again.headers["location"].startswith("/login")
        client.cookies.clear()
        assert sign_in(client, user).status_code == 303  # type: ignore[arg-type]
        paths = ["/mail/INBOX", "/mail/INBOX?page=2", "/mail/Sent", "/mail/INBOX?sort=subject"]
        with ConnectionWatch(own, user.username) as watch, ThreadPoolExecutor(max_workers=12) as pool:
            results = list(
                pool.map(lambda i: client.get(paths[i % 4], headers={"Connection": "close"}), range(24))
            )
        for response in results:
            assert response.status_code == 200 or (
                response.status_code == 503 and "Your mailbox is busy" in response.text
            ), (response.status_code, response.text[:300])
        assert watch.maximum <= CAP
        lines: list[str] = []
        listen_for(client, lines)
        time.sleep(1)  # the watcher's first look at the mailbox
        deliver(own, user, "after the restart")
        assert wait_until(lambda: "event: newmail" in lines, 20), lines


def test_mail_that_came_while_dovecot_was_down_is_announced_once_it_is_back(
    server: Server, own: DevServices, user: MailUser
) -> None:
    with signed_in_client(server.url, user.username, user.password) as client:
        lines: list[str] = []
        listen_for(client, lines)
        time.sleep(1)  # the watcher's first look at the mailbox
        deliver(own, user, "before")
        assert wait_until(lambda: lines.count("event: newmail") == 1, 15), lines
        own.dovecot.kill()  # under the watcher's IDLE
        own.dovecot.start()
        deliver(own, user, "while it was away")
        assert wait_until(lambda: lines.count("event: newmail") == 2, 20), lines
        assert any("while it was away" in line for line in lines if line.startswith("data:"))


def test_an_uploads_folder_without_room_refuses_the_file_in_words_and_keeps_the_text(
    server: Server, own: DevServices, user: MailUser, uploads: Path
) -> None:
    big = secrets.token_bytes(700_000)
    draft_id = "fault" + secrets.token_hex(6)
    with signed_in_client(server.url, user.username, user.password) as client:
        token = token_of(client)
        headers = {"X-CSRF-Token": token, "X-File-Name": "photo.jpg", "Content-Type": "image/jpeg"}
        refused = client.post(f"/compose/{draft_id}/attachments", content=big, headers=headers)
        assert refused.status_code == 507, refused.text[:300]
        assert "no room to store “photo.jpg”" in html.unescape(refused.text)
        assert [p for p in uploads.rglob("*") if p.is_file()] == []  # no half-written file left
        headers["X-File-Name"] = "notes.txt"
        fits = client.post(f"/compose/{draft_id}/attachments", content=b"notes " * 100, headers=headers)
        assert fits.status_code == 200
        assert "notes.txt" in fits.text
        # Without JavaScript the file comes with the form: the form comes back, nothing is sent.
        before = len(own.smtp.messages)
        form = {"csrf_token": token, "to": "far@example.org", "subject": "Holiday photos",
                "body": WRITTEN, "draft_id": draft_id}  # fmt: skip
        page = client.post("/compose/send", data=form, files={"attachments": ("big.jpg", big, "image/jpeg")})
        assert page.status_code == 507, page.text[:300]
        words = html.unescape(page.text)
        assert "no room to store “big.jpg”" in words
        assert WRITTEN in words
        assert "It is kept in Drafts." in words
        assert "notes.txt" in words  # the attachment that fitted is still there
        assert len(own.smtp.messages) == before
        # A file over 1 MiB is spooled to disk while the form is read, before any route runs.
        huge = client.post(
            "/compose/send", data=form, files={"attachments": ("huge.bin", big * 2, "image/jpeg")}
        )
        assert huge.status_code == 507, huge.text[:300]
        assert "no room to store what you sent" in huge.text
        assert "default-src" in huge.headers["content-security-policy"]
        assert len(own.smtp.messages) == before
    drafts = inbox_of(own, user, "Drafts")
    assert len(drafts) == 1
    assert b"Holiday photos" in drafts[0]
    assert server.process.poll() is None
