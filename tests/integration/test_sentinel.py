"""A Redis that fails over: WEBMAIL_REDIS_URL names three Sentinels watching a master and a replica.
The master is killed mid-session; the user stays signed in (never a 500), live updates resume and
the connection cap works on the new master."""

from __future__ import annotations

import queue
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
import redis
from imapclient import IMAPClient

from tests.conftest import MailUser, make_settings, serve_in_thread, sign_in
from webmail.devservices import DevServices
from webmail.devservices.sentinel import SentinelCluster, start_sentinel_cluster


@pytest.fixture(scope="module")
def cluster(services: DevServices) -> Iterator[SentinelCluster]:
    """Its own Redis servers: other tests stop and start the suite's Redis, this one kills a master."""
    started = start_sentinel_cluster(services.root / f"sentinel-{uuid.uuid4().hex[:8]}")
    try:
        yield started
    finally:
        started.stop()


def deliver(services: DevServices, user: MailUser, subject: str) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    imap.append("INBOX", f"From: a@example.org\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())
    imap.logout()


def test_the_master_dies_mid_session(
    cluster: SentinelCluster, services: DevServices, database_url: str, mail_user: MailUser
) -> None:
    settings = make_settings(services, database_url, redis_url=cluster.url)
    with (
        serve_in_thread(settings) as base,
        httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client,
    ):
        assert sign_in(client, mail_user).status_code == 303  # type: ignore[arg-type]
        assert client.get("/mail/INBOX").status_code == 200

        lines: queue.Queue[str] = queue.Queue()
        stop = threading.Event()

        def listen() -> None:
            """As EventSource does: read the stream, and open it again when it ends."""
            while not stop.is_set():
                try:
                    with client.stream("GET", "/events") as response:
                        for line in response.iter_lines():
                            lines.put(line)
                            if stop.is_set():
                                return
                except httpx.HTTPError:
                    pass
                stop.wait(0.5)

        def wait_for(text: str, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{text!r} never came on the stream"
                try:
                    if text in lines.get(timeout=remaining):
                        return
                except queue.Empty:
                    continue

        threading.Thread(target=listen, daemon=True).start()
        wait_for(": subscribed", 10)
        time.sleep(1)  # the watcher's first look at the mailbox
        deliver(services, mail_user, "Before failover")
        wait_for("Before failover", 10)

        old = cluster.master_port()
        with redis.Redis(port=old) as master:
            assert master.wait(1, 5000) == 1  # the session reached the replica
        cluster.server(old).process.kill()
        statuses = []
        failed_over = threading.Event()
        threading.Thread(
            target=lambda: (cluster.wait_for_failover(old), failed_over.set()), daemon=True
        ).start()
        while not failed_over.is_set():
            statuses.append(client.get("/mail/INBOX").status_code)
        statuses += [client.get("/mail/INBOX").status_code for _ in range(3)]
        assert 500 not in statuses, statuses
        assert statuses[-1] == 200, statuses  # still signed in: the session was on the replica

        deliver(services, mail_user, "After failover")
        wait_for("After failover", 30)  # the watcher and the stream found the new master

        with ThreadPoolExecutor(max_workers=6) as pool:  # more at once than the cap allows
            burst = list(pool.map(lambda _: client.get("/mail/INBOX").status_code, range(12)))
        assert burst == [200] * 12, burst
        stop.set()

    new_master = redis.Redis(port=cluster.master_port())
    leases = new_master.zcard(f"{settings.redis_prefix}:cap:{mail_user.username}")
    assert leases <= settings.imap_max_connections_per_user
    new_master.close()
    assert re.fullmatch(r"redis\+sentinel://(127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+/webmail/0", cluster.url)
