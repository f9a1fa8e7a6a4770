"""``make demo`` stopped by SIGTERM (a service manager, ``kill``) stops everything it
started: the web app, its background worker and the private Dovecot and Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from webmail.config import PROJECT_ROOT
from webmail.devservices.system import free_port, wait_for_port


def processes() -> dict[int, tuple[int, str]]:
    """Each live process: its parent and its command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(stat.parent.name)] = (int(fields[1]), command.strip())
    return found


def descendants(pid: int) -> dict[int, str]:
    """The live processes started by ``pid``, and by those, and so on."""
    table = processes()
    family, grew = {pid}, True
    while grew:
        grew = False
        for child, (parent, _) in table.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return {member: table[member][1] for member in family - {pid} if member in table}


def test_sigterm_stops_the_demo_and_everything_it_started(tmp_path: Path) -> None:
    port = free_port()
    started: dict[int, str] = {}
    env = {key: value for key, value in os.environ.items() if not key.startswith("WEBMAIL_")}
    env["WEBMAIL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = subprocess.Popen(
        [sys.executable, "-m", "webmail.cli", "devservices", "--serve", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=90, process=demo)
        started = descendants(demo.pid)
        for server in ("dovecot", "redis-server", "webmail.cli worker"):
            assert any(server in command for command in started.values()), started
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 20
        while (left := started.keys() & processes().keys()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {pid: started[pid] for pid in left} == {}, "still running after the demo stopped"
    finally:
        for pid in [demo.pid, *started]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        demo.wait(timeout=10)
