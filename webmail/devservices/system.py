"""Finding (or installing) the server programs devservices needs, and free loopback ports."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import time

# program -> Debian packages that provide it
PACKAGES: dict[str, tuple[str, ...]] = {
    "dovecot": ("dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd"),
    "managesieve": ("dovecot-sieve", "dovecot-managesieved"),
    "redis-server": ("redis-server",),
    "redis-sentinel": ("redis-sentinel",),
    "nginx": ("nginx",),
    "initdb": ("postgresql",),
    "postgres": ("postgresql",),
}


def search_path() -> str:
    """PATH, the sbin folders, /usr/lib/dovecot (Dovecot's own service programs, such as
    managesieve) and /usr/lib/postgresql/<version>/bin (initdb, postgres; the newest first)."""
    postgres = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(path.split("/")[4]))
    folders = [os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/lib/dovecot"]
    return os.pathsep.join([*folders, *reversed(postgres)])


class MissingProgramError(RuntimeError):
    """Raised when a server program is not installed and cannot be installed here."""


def find_program(name: str, *, install: bool = True) -> str:
    """Return the path of ``name``, installing its Debian packages first when root."""
    path = shutil.which(name, path=search_path())
    if path:
        return path
    packages = PACKAGES.get(name, (name,))
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise MissingProgramError(
            f"{name} is not installed; run as root: apt-get update && {' '.join(command)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(command, check=True, env=env)
    path = shutil.which(name, path=search_path())
    if not path:
        raise MissingProgramError(f"{name} is still missing after: {' '.join(command)}")
    return path


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different free loopback ports (all bound at once, so never the same twice)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(
    port: int, *, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def stop_process_group(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Terminate a process started with ``start_new_session=True`` and everything it spawned."""
    try:
        group = os.getpgid(process.pid)
    except ProcessLookupError:
        process.poll()
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                process.poll()
                return
            process.poll()
            time.sleep(0.05)
    process.poll()
