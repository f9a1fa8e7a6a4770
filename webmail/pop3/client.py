"""A POP3 session (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS) with streamed RETR.

The only module that uses poplib's private API: ``_shortcmd`` for AUTH PLAIN and RETR, ``_getline``
to stream RETR line by line, ``_create_socket`` to close the socket of a failed TLS handshake.
"""

from __future__ import annotations

import base64
import hashlib
import poplib
import socket
import ssl
from dataclasses import dataclass, field
from typing import IO, Literal

from webmail.pop3.destination import Destinations
from webmail.pop3.errors import POP3AuthError, POP3Error, map_pop3_errors
from webmail.tls import client_context

Security = Literal["tls", "starttls", "none"]


@dataclass(frozen=True)
class POP3Server:
    host: str
    port: int
    security: Security
    username: str
    password: str
    timeout: float = 30.0
    verify_tls: bool = True
    destinations: Destinations = field(kw_only=True)


def _connect(addresses: list[tuple[str, int]], timeout: float) -> socket.socket:
    """A TCP connection to the first of the checked addresses that answers."""
    failure: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection(address, timeout)
        except OSError as exc:
            failure = exc
    assert failure is not None  # Destinations.resolve never returns an empty list
    raise failure


def _close_leftovers(pop: poplib.POP3) -> None:
    """Close what a failed greeting left open: poplib keeps its file and socket then."""
    for resource in (getattr(pop, "file", None), getattr(pop, "sock", None)):
        if resource is not None:
            resource.close()


class _POP3(poplib.POP3):
    """Connects to the checked addresses only; poplib would resolve the name again. Also closes
    the socket that poplib leaves open when the greeting fails or times out."""

    def __init__(self, host: str, addresses: list[tuple[str, int]], timeout: float) -> None:
        self.addresses = addresses
        try:
            super().__init__(host, addresses[0][1], timeout=timeout)
        except BaseException:
            _close_leftovers(self)
            raise

    def _create_socket(self, timeout: float) -> socket.socket:
        return _connect(self.addresses, timeout)


class _POP3_SSL(poplib.POP3_SSL):  # noqa: N801 - poplib's name
    """As _POP3, and also closes the plain socket when the TLS handshake fails."""

    def __init__(
        self, host: str, addresses: list[tuple[str, int]], timeout: float, context: ssl.SSLContext
    ) -> None:
        self.addresses = addresses
        try:
            super().__init__(host, addresses[0][1], timeout=timeout, context=context)
        except BaseException:
            _close_leftovers(self)
            raise

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = _connect(self.addresses, timeout)
        try:
            return self.context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined, no-any-return]
        except BaseException:
            sock.close()
            raise


class POP3Session:
    """A logged-in session. DELE takes effect only at ``quit()`` (RFC 1939 UPDATE state).

    Each session resolves the host again and connects only to addresses ``server.destinations``
    allows (raising POP3DestinationError otherwise).
    """

    def __init__(self, server: POP3Server) -> None:
        self.server = server
        context = client_context(server.verify_tls)
        with map_pop3_errors():
            addresses = server.destinations.resolve(server.host, server.port)
            if server.security == "tls":
                self.pop: poplib.POP3 = _POP3_SSL(
                    server.host, addresses, timeout=server.timeout, context=context
                )
            else:
                self.pop = _POP3(server.host, addresses, timeout=server.timeout)
            try:
                self.capabilities = self._capa()
                if server.security == "starttls":
                    self.pop.stls(context)
                    self.capabilities = self._capa()
                self._login()
            except BaseException:
                self.close()
                raise

    def _capa(self) -> dict[str, list[str]]:
        try:
            return self.pop.capa()
        except poplib.error_proto:
            return {}  # CAPA is optional (RFC 2449)

    def _login(self) -> None:
        """SASL PLAIN when offered (UTF-8 safe), else USER/PASS; APOP only if USER is missing."""
        user, password = self.server.username, self.server.password
        try:
            if "PLAIN" in self.capabilities.get("SASL", []):
                token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
                self.pop._shortcmd(f"AUTH PLAIN {token}")  # type: ignore[attr-defined]
            elif self.capabilities and "USER" not in self.capabilities and b"<" in self.pop.welcome:
                self.pop.apop(user, password)
            else:
                self.pop.user(user)
                self.pop.pass_(password)
        except poplib.error_proto as exc:
            raise POP3AuthError() from exc

    def stat(self) -> tuple[int, int]:
        with map_pop3_errors():
            count, size = self.pop.stat()
        return int(count), int(size)

    def sizes(self) -> dict[int, int]:
        with map_pop3_errors():
            _, lines, _ = self.pop.list()
        return {int(n): int(size) for n, size in (line.split()[:2] for line in lines)}

    def uidl(self) -> dict[int, str] | None:
        """Message number to unique id, or None if the server has no UIDL."""
        try:
            with map_pop3_errors():
                _, lines, _ = self.pop.uidl()
        except POP3Error:
            return None
        return {int(n): uid.decode("ascii", "replace") for n, uid in (line.split()[:2] for line in lines)}

    def header_hash(self, number: int) -> str:
        """For servers without UIDL: a hash of the headers (TOP n 0) stands in for the id."""
        with map_pop3_errors():
            _, lines, _ = self.pop.top(number, 0)
        return "hdr-" + hashlib.sha256(b"\r\n".join(lines)).hexdigest()[:32]

    def retrieve(self, number: int, into: IO[bytes]) -> int:
        """RETR into a file, line by line (never the whole message in a list); returns its size."""
        with map_pop3_errors():
            self.pop._shortcmd(f"RETR {number}")  # type: ignore[attr-defined]
            size = 0
            while True:
                line, _ = self.pop._getline()  # type: ignore[attr-defined]
                if line == b".":
                    break
                if line.startswith(b".."):
                    line = line[1:]  # dot-stuffing, RFC 1939 section 3
                into.write(line + b"\r\n")
                size += len(line) + 2
        return size

    def delete(self, number: int) -> None:
        with map_pop3_errors():
            self.pop.dele(number)

    def quit(self) -> None:
        """Leave, committing the deletions."""
        with map_pop3_errors():
            self.pop.quit()

    def close(self) -> None:
        """Drop the connection without committing deletions; never raises."""
        try:
            self.pop.close()
        except Exception:  # noqa: S110 - the socket is gone already
            pass
