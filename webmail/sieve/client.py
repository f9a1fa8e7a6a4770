"""A ManageSieve client (RFC 5804): the only module that speaks the protocol.

Blocking and small, like the protocol: a greeting with capabilities, STARTTLS, AUTHENTICATE
PLAIN, then one command at a time, each answered by OK, NO or BYE with an optional response
code and human-readable text (RFC 5804 section 1.3), which errors carry to the user unchanged.
Scripts travel as non-synchronising literals (``{n+}``, section 4) byte for byte: a script
written by another client comes back exactly as it was stored.

sievelib (PyPI) was the alternative; it is untyped, reports failures as ``False`` plus an
``errmsg`` attribute, rejoins fetched scripts with ``\\n`` (losing CRLF and the last line
break) and warns through ``warnings`` on plain connections, so this client is our own.
"""

from __future__ import annotations

import base64
import re
import socket
import ssl
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from webmail.sieve.errors import (
    ScriptNotFoundError,
    ScriptRejectedError,
    SieveAuthError,
    SieveError,
    SieveQuotaError,
    SieveUnavailableError,
    map_sieve_errors,
)

Security = Literal["tls", "starttls", "none"]
MAX_LINE = 64 * 1024
MAX_LITERAL = 8 * 1024 * 1024
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_STATUS = (b"OK", b"NO", b"BYE")


@dataclass(frozen=True)
class Capabilities:
    """What the server announced in its greeting (RFC 5804 section 1.7)."""

    implementation: str = ""
    sasl: tuple[str, ...] = ()
    sieve: frozenset[str] = frozenset()
    starttls: bool = False
    version: str | None = None
    max_redirects: int | None = None
    owner: str | None = None

    @classmethod
    def parse(cls, lines: list[list[Token]]) -> Capabilities:
        values: dict[str, str] = {}
        for tokens in lines:
            if tokens:
                name = tokens[0].text.upper()
                values[name] = tokens[1].text if len(tokens) > 1 else ""
        redirects = values.get("MAXREDIRECTS", "")
        return cls(
            implementation=values.get("IMPLEMENTATION", ""),
            sasl=tuple(values.get("SASL", "").upper().split()),
            sieve=frozenset(values.get("SIEVE", "").lower().split()),
            starttls="STARTTLS" in values,
            version=values.get("VERSION"),
            max_redirects=int(redirects) if redirects.isdigit() else None,
            owner=values.get("OWNER"),
        )


@dataclass(frozen=True)
class Token:
    kind: Literal["atom", "string", "code"]
    value: bytes

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


@dataclass(frozen=True)
class Response:
    """One command's answer: the data lines before it, then OK / NO / BYE, code and text."""

    status: str
    code: str = ""
    text: str = ""
    lines: list[list[Token]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class ScriptInfo:
    name: str
    active: bool


class ManageSieveClient:
    """One authenticated connection; ``with ManageSieveClient.connect(...) as client:``.

    Every method sends one command and raises a SieveError subclass with the server's text
    when the answer is NO or BYE. Not thread-safe: one thread at a time.
    """

    def __init__(self, sock: socket.socket, host: str) -> None:
        """Read the greeting on a connected (or TLS-wrapped) socket; see ``connect``."""
        self._sock = sock
        self._host = host
        self._file: BinaryIO = sock.makefile("rb")
        self.capabilities = Capabilities.parse(self._expect_ok("greeting").lines)

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        *,
        security: Security,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ManageSieveClient:
        """Connect, read the greeting and secure the connection (implicit TLS or STARTTLS)."""
        context = ssl_context or ssl.create_default_context()
        with map_sieve_errors():
            sock = socket.create_connection((host, port), timeout=min(timeout, 10.0))
            sock.settimeout(timeout)
            try:
                if security == "tls":
                    sock = context.wrap_socket(sock, server_hostname=host)
                client = cls(sock, host)
                if security == "starttls":
                    client.starttls(context)
            except BaseException:
                sock.close()
                raise
        return client

    def __enter__(self) -> ManageSieveClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.logout()

    # ------------------------------------------------------------ commands (RFC 5804 section 2)

    def starttls(self, context: ssl.SSLContext) -> None:
        """STARTTLS (2.2); the server then announces its capabilities again."""
        if not self.capabilities.starttls:
            raise SieveUnavailableError(
                "Filters are not available: the filter server does not offer STARTTLS."
            )
        self._expect_ok("STARTTLS", b"STARTTLS")
        with map_sieve_errors():
            self._sock = context.wrap_socket(self._sock, server_hostname=self._host)
            self._file = self._sock.makefile("rb")
        self.capabilities = Capabilities.parse(self._expect_ok("STARTTLS").lines)

    def authenticate(self, username: str, password: str) -> None:
        """AUTHENTICATE "PLAIN" with an initial response (2.1, RFC 4616)."""
        if "PLAIN" not in self.capabilities.sasl:
            raise SieveAuthError("The filter server offers no sign-in we can use (PLAIN).")
        secret = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode())
        response = self._command(b"AUTHENTICATE", _quote("PLAIN"), b'"' + secret + b'"')
        if not response.ok:
            raise SieveAuthError(response.text or None)

    def list_scripts(self) -> list[ScriptInfo]:
        """LISTSCRIPTS (2.7): every script and whether it is the active one."""
        response = self._expect_ok("LISTSCRIPTS", b"LISTSCRIPTS")
        return [
            ScriptInfo(tokens[0].text, len(tokens) > 1 and tokens[1].value.upper() == b"ACTIVE")
            for tokens in response.lines
            if tokens
        ]

    def get_script(self, name: str) -> str:
        """GETSCRIPT (2.9): the script exactly as stored."""
        response = self._expect_ok("GETSCRIPT", b"GETSCRIPT", _quote(name))
        if not response.lines or not response.lines[0]:
            raise SieveError("The filter server sent no script.")
        return response.lines[0][0].text

    def check_script(self, content: str) -> str:
        """CHECKSCRIPT (2.12): raises ScriptRejectedError with the server's words; returns its
        warnings (response code WARNINGS), or ""."""
        response = self._expect_ok("CHECKSCRIPT", b"CHECKSCRIPT", _literal(content))
        return response.text if response.code.upper() == "WARNINGS" else ""

    def put_script(self, name: str, content: str) -> str:
        """PUTSCRIPT (2.6): stores the script (the server checks it first); returns warnings."""
        response = self._expect_ok("PUTSCRIPT", b"PUTSCRIPT", _quote(name), _literal(content))
        return response.text if response.code.upper() == "WARNINGS" else ""

    def set_active(self, name: str) -> None:
        """SETACTIVE (2.8); the empty name deactivates every script."""
        self._expect_ok("SETACTIVE", b"SETACTIVE", _quote(name))

    def delete_script(self, name: str) -> None:
        """DELETESCRIPT (2.10); the server refuses to delete the active script."""
        self._expect_ok("DELETESCRIPT", b"DELETESCRIPT", _quote(name))

    def rename_script(self, old: str, new: str) -> None:
        """RENAMESCRIPT (2.11.1, servers announcing VERSION)."""
        self._expect_ok("RENAMESCRIPT", b"RENAMESCRIPT", _quote(old), _quote(new))

    def have_space(self, name: str, size: int) -> None:
        """HAVESPACE (2.5): raises SieveQuotaError when a script of ``size`` octets would not fit."""
        self._expect_ok("HAVESPACE", b"HAVESPACE", _quote(name), str(size).encode())

    def logout(self) -> None:
        """LOGOUT (2.3) and close; never raises."""
        try:
            self._command(b"LOGOUT")
        except (SieveError, OSError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection without a word to the server."""
        self._file.close()
        self._sock.close()

    # ------------------------------------------------------------ wire

    def _expect_ok(self, command: str, *parts: bytes) -> Response:
        response = self._command(*parts) if parts else self._read_response()
        if response.ok:
            return response
        code = response.code.upper()
        text = response.text or None
        if response.status == "BYE":
            raise SieveUnavailableError(f"The filter server closed the connection: {response.text}")
        if code.startswith("QUOTA"):
            raise SieveQuotaError(text)
        if code == "NONEXISTENT":
            raise ScriptNotFoundError()
        if command in ("PUTSCRIPT", "CHECKSCRIPT"):
            raise ScriptRejectedError(text)
        raise SieveError(f"The filter server refused {command}: {response.text}")

    def _command(self, *parts: bytes) -> Response:
        with map_sieve_errors():
            self._sock.sendall(b" ".join(parts) + b"\r\n")
            return self._read_response()

    def _read_response(self) -> Response:
        lines: list[list[Token]] = []
        with map_sieve_errors():
            while True:
                tokens = self._read_tokens()
                if tokens and tokens[0].kind == "atom" and tokens[0].value.upper() in _STATUS:
                    rest = tokens[1:]
                    code = rest.pop(0).text if rest and rest[0].kind == "code" else ""
                    text = rest[0].text if rest else ""
                    return Response(tokens[0].value.upper().decode(), code, text, lines)
                lines.append(tokens)

    def _readline(self) -> bytes:
        line = self._file.readline(MAX_LINE)
        if not line:
            raise SieveUnavailableError("Filters are not available: the filter server closed the connection.")
        if not line.endswith(b"\n"):
            raise SieveError("The filter server sent a line that is too long.")
        return line

    def _read_tokens(self) -> list[Token]:
        """One response line as tokens; literals (``{n}`` CRLF and n octets) are read inline."""
        tokens: list[Token] = []
        line = self._readline()
        pos = 0
        while pos < len(line):
            char = line[pos : pos + 1]
            if char in (b" ", b"\r", b"\n"):
                pos += 1
            elif char == b'"':
                value, pos = _read_quoted(line, pos)
                tokens.append(Token("string", value))
            elif char == b"(":
                end = _closing_paren(line, pos)
                tokens.append(Token("code", line[pos + 1 : end]))
                pos = end + 1
            elif match := _LITERAL.match(line, pos):
                size = int(match.group(1))
                if size > MAX_LITERAL:
                    raise SieveError("The filter server sent a script that is too large.")
                data = self._file.read(size)
                if len(data) != size:
                    raise SieveUnavailableError(
                        "Filters are not available: the filter server closed the connection."
                    )
                tokens.append(Token("string", data))
                line, pos = self._readline(), 0
            else:
                end = pos
                while end < len(line) and line[end : end + 1] not in (b" ", b"\r", b"\n"):
                    end += 1
                tokens.append(Token("atom", line[pos:end]))
                pos = end
        return tokens


def _read_quoted(line: bytes, start: int) -> tuple[bytes, int]:
    """A quoted string from ``line[start]`` (the opening quote): its value and the end position."""
    value = bytearray()
    pos = start + 1
    while pos < len(line):
        char = line[pos : pos + 1]
        if char == b"\\" and pos + 1 < len(line):
            value += line[pos + 1 : pos + 2]
            pos += 2
        elif char == b'"':
            return bytes(value), pos + 1
        else:
            value += char
            pos += 1
    raise SieveError("The filter server sent an unterminated string.")


def _closing_paren(line: bytes, start: int) -> int:
    pos = start + 1
    while pos < len(line):
        char = line[pos : pos + 1]
        if char == b'"':
            pos = _read_quoted(line, pos)[1]
            continue
        if char == b")":
            return pos
        pos += 1
    raise SieveError("The filter server sent an unterminated response code.")


def _quote(text: str) -> bytes:
    """A quoted string (RFC 5804 section 4): CR, LF and NUL cannot be quoted."""
    if re.search(r"[\r\n\0]", text):
        raise SieveError("A script name cannot hold line breaks.")
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


def _literal(content: str) -> bytes:
    data = content.encode()
    return b"{%d+}\r\n" % len(data) + data
