"""The app as real `webmail serve` processes for tests: start, sign in, seed, watch Dovecot."""

from __future__ import annotations

import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
from imapclient import IMAPClient

from tests.conftest import MailUser, sign_in
from webmail.db.migrate import upgrade
from webmail.devservices import DevServices
from webmail.devservices.system import free_port, wait_for_port

CAP = 4
STARTUP_SECONDS = 90


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    prefix: str
    secret_key: str
    log: Path


def start_server(
    services: DevServices,
    tmp_path: Path,
    *,
    workers: int,
    lease_seconds: float = 30,
    per_worker: int = 3,
    cap_wait_seconds: float = 5,
    share_with: Server | None = None,
    extra: dict[str, str] | None = None,
    file_size_limit: int | None = None,
) -> Server:
    """``webmail serve`` as a process group; ``share_with`` makes it another host of that
    server's installation (its Redis prefix, secret key and database). ``extra`` adds or replaces
    ``WEBMAIL_*`` variables; ``file_size_limit`` caps in bytes every file its processes write
    (RLIMIT_FSIZE: a write past it fails with EFBIG, as on a full disk)."""
    database = f"sqlite:///{tmp_path / 'workers.db'}"
    upgrade(database)
    port = free_port()
    prefix = share_with.prefix if share_with else f"w{secrets.token_hex(4)}"
    secret_key = share_with.secret_key if share_with else secrets.token_urlsafe(48)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBMAIL_")}
    env.update(services.env())
    env.update(
        {
            "WEBMAIL_SECRET_KEY": secret_key,
            "WEBMAIL_DATABASE_URL": database,
            "WEBMAIL_REDIS_PREFIX": prefix,
            "WEBMAIL_IMAP_MAX_CONNECTIONS_PER_USER": str(CAP),
            "WEBMAIL_IMAP_POOL_PER_WORKER": str(per_worker),
            "WEBMAIL_IMAP_CAP_WAIT_SECONDS": str(cap_wait_seconds),
            "WEBMAIL_IMAP_LEASE_SECONDS": str(lease_seconds),
            "WEBMAIL_LOGIN_MAX_FAILURES_PER_IP": "1000",
            **(extra or {}),
        }
    )

    def limit_files() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    command = [sys.executable, "-m", "webmail.cli", "serve", "--port", str(port), "--workers", str(workers)]
    log_path = tmp_path / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=limit_files if file_size_limit is not None else None,
        )
    server = Server(f"http://127.0.0.1:{port}", process, prefix, secret_key, log_path)
    try:
        # Several workers importing the app on a loaded machine (other suites running) can
        # take well over half a minute to listen: this waits for readiness, it times nothing.
        wait_for_port(port, timeout=STARTUP_SECONDS, process=process)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
    except BaseException:
        # Not left running: the next test would fail on its ResourceWarning instead.
        stop_server(server)
        raise
    return server


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(5)


@contextmanager
def signed_in_client(url: str, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        response = sign_in(client, MailUser(username, password))  # type: ignore[arg-type]
        assert response.status_code == 303, response.text
        yield client


def seed(services: DevServices, username: str, password: str, count: int = 120) -> list[int]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(username, password)
    uids = []
    for i in range(count):
        response = client.append(
            "INBOX", f"From: a{i}@example.org\r\nSubject: load {i}\r\n\r\nbody {i}\r\n".encode()
        )
        uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", response).group(1)))  # type: ignore[union-attr]
    client.append("Sent", b"From: me@example.test\r\nSubject: sent\r\n\r\nbody\r\n")
    client.logout()
    return uids


class ConnectionWatch:
    """Polls Dovecot for the user's IMAP connections while a test runs; remembers the maximum."""

    def __init__(self, services: DevServices, username: str) -> None:
        self.services, self.username = services, username
        self.maximum = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.maximum = max(self.maximum, self.services.dovecot.connections(self.username))
            except subprocess.CalledProcessError:  # doveadm's query of anvil timed out under load
                pass
            time.sleep(0.02)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
