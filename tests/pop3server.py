"""A small POP3 server for the cases Dovecot cannot play: no UIDL, a self-signed certificate,
and a server that accepts connections but never answers."""

from __future__ import annotations

import datetime
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Mailbox:
    def __init__(self, messages: list[bytes], user: str = "user", password: str = "pass") -> None:  # noqa: S107
        self.messages = list(messages)
        self.user = user
        self.password = password
        self.lock = threading.Lock()


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        if self.server.silent:
            self.server.stop_event.wait(30)
            return
        box = self.server.mailbox
        self.send("+OK tiny POP3 ready")
        user = ""
        authed = False
        deleted: set[int] = set()
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command, _, argument = line.decode().strip().partition(" ")
            command = command.upper()
            if command == "CAPA":
                self.send("+OK\r\nUSER\r\nTOP\r\n.")  # no UIDL
            elif command == "USER":
                user = argument
                self.send("+OK")
            elif command == "PASS":
                authed = user == box.user and argument == box.password
                self.send("+OK logged in" if authed else "-ERR [AUTH] wrong password")
            elif command == "QUIT":
                if authed:
                    with box.lock:
                        box.messages = [m for i, m in enumerate(box.messages, 1) if i not in deleted]
                self.send("+OK bye")
                return
            elif not authed:
                self.send("-ERR log in first")
            elif command == "STAT":
                sizes = [len(m) for m in box.messages]
                self.send(f"+OK {len(sizes)} {sum(sizes)}")
            elif command == "LIST":
                self.send("+OK")
                for i, message in enumerate(box.messages, 1):
                    self.send(f"{i} {len(message)}")
                self.send(".")
            elif command == "UIDL":
                self.send("-ERR UIDL is not supported")
            elif command in ("RETR", "TOP"):
                number = int(argument.split()[0])
                message = box.messages[number - 1]
                if command == "TOP":
                    message = message.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                self.send("+OK")
                for part in message.split(b"\r\n"):
                    self.wfile.write((b"." + part if part.startswith(b".") else part) + b"\r\n")
                self.send(".")
            elif command == "DELE":
                deleted.add(int(argument))
                self.send("+OK")
            elif command == "NOOP":
                self.send("+OK")
            else:
                self.send("-ERR unknown command")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    mailbox: Mailbox
    silent: bool
    stop_event: threading.Event


def self_signed_context(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@contextmanager
def tiny_pop3(mailbox: Mailbox, *, tls: bool = False, silent: bool = False) -> Iterator[int]:
    """Serve ``mailbox`` on a free loopback port; yields the port."""
    server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=True)
    server.mailbox, server.silent, server.stop_event = mailbox, silent, threading.Event()
    if tls:
        with tempfile.TemporaryDirectory() as directory:
            context = self_signed_context(Path(directory))
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.stop_event.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def refused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def banner_service(banner: bytes) -> Iterator[int]:
    """A service that is not POP3 (as an internal SSH server): greets with ``banner`` and waits
    for the client to hang up. Yields its loopback port."""

    class Greeter(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(banner + b"\r\n")
            self.request.settimeout(10)
            try:
                while self.request.recv(1024):
                    pass
            except OSError:
                pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Greeter)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
