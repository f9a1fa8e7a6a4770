"""Fault rigs for tests/integration/test_faults*.py: a relay that trips at a chosen command, and an
SMTP server that refuses, hangs or drops the connection in the middle of DATA.

Both are real servers on loopback sockets; what breaks is decided by the bytes on the wire, so a
fault lands at the same point of a request on every run, however loaded the machine is.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from webmail.devservices.system import free_port


@dataclass
class Relay:
    """One client connection passing through a Tripwire."""

    client: socket.socket
    upstream: socket.socket
    held: bool = False  # tripped: the client's end stays open until the action is done
    tripped_on: bytes = b""  # the chunk that tripped it (not passed on, unless the action does)

    def pass_on(self) -> None:
        """Let the tripping bytes reach the server after all (to fault after it acted on them)."""
        self.upstream.sendall(self.tripped_on)

    @property
    def client_port(self) -> int:
        """The client's own port: which process holds that end is in /proc (``owner_pid``)."""
        return int(self.client.getpeername()[1])

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


Action = Callable[[Relay], None]


class Tripwire:
    """A TCP relay in front of a loopback server. Bytes pass unchanged until the client sends
    some that match the armed pattern: then, instead of passing them on, ``action`` runs (kill
    the server, restart it, hold the request...) and that connection is dropped. It trips once
    per ``arm``; other connections keep passing meanwhile."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.tripped = threading.Event()
        self._armed: tuple[re.Pattern[bytes], Action] | None = None
        self._matches_left = 0
        self._lock = threading.Lock()
        self._relays: list[Relay] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def arm(self, pattern: bytes, action: Action, *, nth: int = 1) -> None:
        """Trip at the ``nth`` chunk from a client that matches ``pattern``."""
        with self._lock:
            self.tripped.clear()
            self._armed = (re.compile(pattern, re.IGNORECASE), action)
            self._matches_left = nth

    def disarm(self) -> None:
        self._armed = None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the server is down: the client sees a dropped connection
                continue
            relay = Relay(client, upstream)
            with self._lock:
                self._relays.append(relay)
            threading.Thread(target=self._to_server, args=(relay,), daemon=True).start()
            threading.Thread(target=self._to_client, args=(relay,), daemon=True).start()

    def _to_server(self, relay: Relay) -> None:
        try:
            while chunk := relay.client.recv(65536):
                trip = self._take(chunk)
                if trip is not None:
                    relay.held, relay.tripped_on = True, chunk
                    trip(relay)
                    self.tripped.set()
                    return
                relay.upstream.sendall(chunk)
        except OSError:
            pass
        finally:
            relay.close()

    def _take(self, chunk: bytes) -> Action | None:
        # A command goes out in one send, so it arrives in one chunk.
        with self._lock:
            armed = self._armed
            if armed is None or not armed[0].search(chunk):
                return None
            self._matches_left -= 1
            if self._matches_left > 0:
                return None
            self._armed = None
            return armed[1]

    def _to_client(self, relay: Relay) -> None:
        try:
            while chunk := relay.upstream.recv(65536):
                if not relay.held:  # after a trip the server's answers are lost on the way
                    relay.client.sendall(chunk)
        except OSError:
            pass
        finally:
            if not relay.held:
                relay.close()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            relays, self._relays = self._relays, []
        for relay in relays:
            relay.close()


def owner_pid(port: int, among: list[int]) -> int | None:
    """Which of the processes ``among`` holds the loopback TCP socket bound to ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    for pid in among:
        with suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        return pid
    return None


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with suppress(OSError):
            text = status.read_text()
            parent = re.search(r"^PPid:\s+(\d+)", text, re.M)
            if parent and int(parent.group(1)) == pid:
                found.append(int(status.parent.name))
    return found


Mode = Literal["accept", "refuse", "hang", "drop"]


@dataclass
class SMTPState:
    mode: Mode = "accept"
    connections: int = 0
    data_started: int = 0  # DATA commands answered with 354: attempts to hand over a message
    accepted: list[bytes] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class _SMTPHandler(socketserver.StreamRequestHandler):
    server: _SMTPServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state = self.server.state
        state.connections += 1
        self.reply("220 faulty.test ESMTP")
        while line := self.rfile.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                self.reply("250-faulty.test\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 35882577")
            elif verb == b"AUTH":
                if line.split()[1].upper() == b"LOGIN":
                    for prompt in ("334 " + base64.b64encode(b"Username:").decode(),
                                   "334 " + base64.b64encode(b"Password:").decode()):  # fmt: skip
                        self.reply(prompt)
                        self.rfile.readline()
                self.reply("235 2.7.0 Authentication successful")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self.reply("250 2.0.0 OK")
            elif verb == b"DATA":
                state.data_started += 1
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                if not self.data(state):
                    return
            elif verb == b"QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Not implemented")

    def data(self, state: SMTPState) -> bool:
        """Read the message; answer as the mode says. False: the connection is to end now."""
        received = b""
        while line := self.rfile.readline():
            if state.mode == "drop" and len(received) > 200:
                return False  # gone in the middle of the message, before its end was sent
            if line == b".\r\n":
                break
            received += line
        if state.mode == "hang":
            state.release.wait(60)  # far past the client's timeout
            return False
        if state.mode == "refuse":
            self.reply("554 5.7.1 Message refused: it looks like spam to us")
            return True
        state.accepted.append(received)
        self.reply("250 2.0.0 Queued as F00D")
        return True


class _SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: SMTPState


@contextmanager
def faulty_smtp() -> Iterator[tuple[int, SMTPState]]:
    """An SMTP submission server on loopback whose behaviour the test sets in ``state.mode``."""
    server = _SMTPServer(("127.0.0.1", 0), _SMTPHandler)
    server.state = SMTPState()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.state
    finally:
        server.state.release.set()
        server.shutdown()
        server.server_close()
