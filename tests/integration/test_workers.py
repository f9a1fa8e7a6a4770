"""The app as real `webmail serve` processes: the per-user cap across workers, recovery, leases."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from tests.cluster import CAP, ConnectionWatch, seed, signed_in_client, start_server, stop_server
from webmail.devservices import DevServices
from webmail.redis import Keys


@pytest.fixture(scope="module")
def own_services() -> Iterator[DevServices]:
    """Services of this module alone: the tests restart Dovecot."""
    with DevServices() as running:
        yield running


def test_fifty_concurrent_requests_never_exceed_the_cap(own_services: DevServices, tmp_path: Path) -> None:
    password = "pw-hammer"
    username = own_services.dovecot.new_user(password)
    uids = seed(own_services, username, password)
    server = start_server(own_services, tmp_path, workers=2)
    try:
        with signed_in_client(server.url, username, password) as client:
            paths = ["/mail/INBOX", "/mail/INBOX?page=2", "/mail/Sent", "/mail/INBOX?sort=subject",
                     *[f"/mail/INBOX/{uid}" for uid in uids[:20]], "/mail/INBOX?view=threads"]  # fmt: skip
            with (
                ConnectionWatch(own_services, username) as watch,
                ThreadPoolExecutor(max_workers=50) as executor,
            ):
                results = list(executor.map(lambda i: client.get(paths[i % len(paths)]), range(50)))
            for response in results:
                assert response.status_code == 200 or (
                    response.status_code == 503 and "Your mailbox is busy" in response.text
                ), (response.status_code, response.text[:500])
            assert sum(r.status_code == 200 for r in results) >= 45
            assert 1 <= watch.maximum <= CAP
            assert own_services.dovecot.connections(username) <= CAP
    finally:
        stop_server(server)


def test_dovecot_restart_mid_session(own_services: DevServices, tmp_path: Path) -> None:
    password = "pw-restart"
    username = own_services.dovecot.new_user(password)
    seed(own_services, username, password, count=3)
    server = start_server(own_services, tmp_path, workers=1)
    try:
        with signed_in_client(server.url, username, password) as client:
            assert client.get("/mail/INBOX").status_code == 200
            own_services.dovecot.stop()
            down = client.get("/mail/INBOX")
            assert down.status_code == 503
            assert "Mail server unavailable" in down.text
            own_services.dovecot.start()
            again = client.get("/mail/INBOX")
            assert again.status_code == 200
            assert "load 2" in again.text
    finally:
        if own_services.dovecot.process.poll() is not None:
            own_services.dovecot.start()
        stop_server(server)


def test_restart_between_requests_is_invisible(own_services: DevServices, tmp_path: Path) -> None:
    password = "pw-bounce"
    username = own_services.dovecot.new_user(password)
    seed(own_services, username, password, count=2)
    server = start_server(own_services, tmp_path, workers=1)
    try:
        with signed_in_client(server.url, username, password) as client:
            assert client.get("/mail/INBOX").status_code == 200
            own_services.dovecot.stop()
            own_services.dovecot.start()
            # The pooled connection is dead; the request reconnects and retries once.
            assert client.get("/mail/INBOX").status_code == 200
    finally:
        stop_server(server)


def test_killed_worker_leases_free_themselves(own_services: DevServices, tmp_path: Path) -> None:
    password = "pw-kill"
    username = own_services.dovecot.new_user(password)
    seed(own_services, username, password, count=2)
    server = start_server(own_services, tmp_path, workers=1, lease_seconds=2)
    r = redis.Redis.from_url(own_services.redis.url)
    key = Keys(server.prefix).connection_cap(username)

    def live_leases() -> int:
        seconds, micros = r.time()
        now_ms = seconds * 1000 + micros // 1000
        return int(r.zcount(key, now_ms, "+inf"))

    try:
        with signed_in_client(server.url, username, password) as client:
            assert client.get("/mail/INBOX").status_code == 200
            assert live_leases() >= 1
            time.sleep(2.5)
            assert live_leases() >= 1, "a live worker keeps renewing its leases"
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(5)
            deadline = time.monotonic() + 6
            while live_leases() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert live_leases() == 0
    finally:
        stop_server(server)
        r.close()


def test_password_changed_elsewhere_ends_the_session(own_services: DevServices, tmp_path: Path) -> None:
    password = "pw-old"
    username = own_services.dovecot.new_user(password)
    server = start_server(own_services, tmp_path, workers=1)
    try:
        with signed_in_client(server.url, username, password) as client:
            assert client.get("/mail/INBOX").status_code == 200
            own_services.dovecot.add_user(username, "pw-new")
            own_services.dovecot.stop()  # drop the warm connection so the next request must log in
            own_services.dovecot.start()
            response = client.get("/mail/INBOX")
            assert response.status_code == 303
            assert response.headers["location"] == "/login?expired=1"
            page = client.get("/login?expired=1")
            assert "Please sign in again" in page.text
            assert client.get("/mail/INBOX").headers["location"] == "/login"  # the session is gone
    finally:
        stop_server(server)


def test_metrics_add_up_across_workers(own_services: DevServices, tmp_path: Path) -> None:
    password = "pw-metrics"
    username = own_services.dovecot.new_user(password)
    server = start_server(own_services, tmp_path, workers=2)
    try:
        with signed_in_client(server.url, username, password) as client:
            for _ in range(6):
                assert client.get("/mail/INBOX").status_code == 200
            body = client.get("/metrics").text
        opened = re.search(r"^webmail_imap_connections_opened_total (\S+)$", body, re.M)
        assert opened
        assert float(opened.group(1)) >= 1
        assert 'webmail_imap_operation_seconds_count{operation="list_folders"}' in body
    finally:
        stop_server(server)


def test_sign_out_closes_connections_in_every_worker(own_services: DevServices, tmp_path: Path) -> None:
    password = "pw-out"
    username = own_services.dovecot.new_user(password)
    seed(own_services, username, password, count=3)
    # One connection per worker: two connections at Dovecot means both workers hold one.
    server = start_server(own_services, tmp_path, workers=2, per_worker=1)
    try:
        with signed_in_client(server.url, username, password) as client:
            deadline = time.monotonic() + 20
            while own_services.dovecot.connections(username) < 2 and time.monotonic() < deadline:
                with ThreadPoolExecutor(max_workers=8) as executor:
                    # New connections each time, so the kernel hands them to both workers.
                    list(
                        executor.map(
                            lambda _: client.get("/mail/INBOX", headers={"Connection": "close"}), range(16)
                        )
                    )
            assert own_services.dovecot.connections(username) == 2
            token = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/mail/INBOX").text)
            assert token
            assert client.post("/logout", headers={"X-CSRF-Token": token.group(1)}).status_code == 303
        deadline = time.monotonic() + 10
        while own_services.dovecot.connections(username) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert own_services.dovecot.connections(username) == 0
    finally:
        stop_server(server)
