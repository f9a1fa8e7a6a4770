"""A private Redis on a free loopback port that keeps nothing on disk."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from webmail.devservices.system import find_program, free_port, stop_process, wait_for_port


@dataclass
class RedisServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL, as a crash: clients see their connections drop."""
        self.process.kill()
        self.process.wait(10)

    def start(self) -> None:
        """Start again after ``kill()`` or ``stop()``, on the same port, empty: it keeps nothing
        on disk, so every session, lease and lock is gone."""
        self.process = start_redis(self.root, port=self.port).process

    def restart(self) -> None:
        self.kill()
        self.start()


def start_redis(root: Path, *, replica_of: int | None = None, port: int | None = None) -> RedisServer:
    """A Redis of its own (on ``port``, or a free one); with ``replica_of``, a replica of the
    Redis on that loopback port."""
    binary = find_program("redis-server")
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    replication = ["--replicaof", "127.0.0.1", str(replica_of)] if replica_of else []
    process = subprocess.Popen(
        [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(root),
            "--logfile", str(root / "redis.log"),
            "--daemonize", "no",
            *replication,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, process=process)
    except Exception as exc:
        stop_process(process)
        raise RuntimeError(f"Redis did not start: {exc}") from exc
    return RedisServer(root, port, process)
