"""A private PostgreSQL (Debian's packages): ``initdb`` in its own folder, a free loopback port.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres`` user
(made by the Debian package) in a folder it owns.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from webmail.devservices.system import find_program, free_port, wait_for_port

SUPERUSER = "postgres"


@dataclass
class PostgresServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "webmail") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log(self) -> str:
        return (self.root / "postgres.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # "fast" shutdown: SIGTERM would wait for clients
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_postgres(root: Path) -> PostgresServer:
    initdb = find_program("initdb")
    postgres = find_program("postgres")
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    account = _unprivileged_account()
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
        os.chown(data, account.pw_uid, account.pw_gid)
    uid, gid = (account.pw_uid, account.pw_gid) if account else (None, None)
    result = subprocess.run(
        [
            initdb,
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
        user=uid,
        group=gid,
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
    port = free_port()
    log = (root / "postgres.log").open("ab")
    process = subprocess.Popen(
        [
            postgres,
            "-D", str(data),
            "-p", str(port),
            "-k", str(root),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        user=uid,
        group=gid,
    )  # fmt: skip
    log.close()
    server = PostgresServer(root, port, process)
    try:
        wait_for_port(port, process=process, timeout=30)
        _wait_until_ready(server)
    except Exception as exc:
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {exc}; see {root / 'postgres.log'}") from exc
    return server


def _unprivileged_account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise RuntimeError("running as root needs the postgres user of Debian's postgresql package") from None


def _wait_until_ready(server: PostgresServer, timeout: float = 30.0) -> None:
    """The port opens before the server takes connections ("the database system is starting up")."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.dsn(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise
            time.sleep(0.1)
