"""The ManageSieve client's reading of answers a server may send (RFC 5804 section 4), from a
scripted server on a socket pair."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from webmail.sieve.client import ManageSieveClient
from webmail.sieve.errors import (
    ScriptNotFoundError,
    ScriptRejectedError,
    SieveError,
    SieveQuotaError,
    SieveUnavailableError,
)

GREETING = b'"IMPLEMENTATION" "Test"\r\n"SASL" "PLAIN"\r\n"SIEVE" "fileinto"\r\n"MAXREDIRECTS" "2"\r\nOK\r\n'


@pytest.fixture
def server() -> Iterator[tuple[ManageSieveClient, list[bytes], list[bytes]]]:
    """A client talking to a server that answers each command with the next scripted reply."""
    ours, theirs = socket.socketpair()
    replies: list[bytes] = []
    received: list[bytes] = []

    def serve() -> None:
        theirs.sendall(GREETING)
        with theirs.makefile("rb") as reader:
            serve_lines(reader)

    def serve_lines(reader: BinaryIO) -> None:
        while line := reader.readline():
            received.append(line)
            if line.rstrip().endswith(b"+}"):
                continue  # a literal follows on the next line
            if replies:
                reply = replies.pop(0)
                theirs.sendall(reply)
                if not reply.endswith(b"\r\n"):
                    theirs.shutdown(socket.SHUT_WR)  # the server goes away mid-answer

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ours.settimeout(5)
    client = ManageSieveClient(ours, "test")
    yield client, replies, received
    client.close()  # the server reads the end of input and stops
    thread.join(2)
    theirs.close()


def test_greeting(server) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = server
    assert client.capabilities.implementation == "Test"
    assert client.capabilities.max_redirects == 2
    assert client.capabilities.sieve == frozenset({"fileinto"})


def test_errors_as_literals_with_codes(server) -> None:  # type: ignore[no-untyped-def]
    client, replies, received = server
    replies += [
        b'NO {27}\r\nline 1: error: "quoted" \\ x\r\n',
        b'NO (QUOTA/MAXSIZE) "Script too large"\r\n',
        b'NO (NONEXISTENT) "No such script"\r\n',
        b'BYE "Shutting down"\r\n',
    ]
    with pytest.raises(ScriptRejectedError) as rejected:
        client.check_script("keep;")
    assert rejected.value.user_message == 'line 1: error: "quoted" \\ x'
    assert received[-2:] == [b"CHECKSCRIPT {5+}\r\n", b"keep;\r\n"]
    with pytest.raises(SieveQuotaError, match="Script too large"):
        client.put_script("a", "keep;")
    with pytest.raises(ScriptNotFoundError):
        client.get_script('x"y')
    assert received[-1] == b'GETSCRIPT "x\\"y"\r\n'
    with pytest.raises(SieveUnavailableError, match="Shutting down"):
        client.list_scripts()


def test_scripts_and_names_as_literals(server) -> None:  # type: ignore[no-untyped-def]
    client, replies, _ = server
    replies += [b'{6}\r\nn\xc3\xa4me1 ACTIVE\r\n"two"\r\nOK\r\n', b"{11}\r\nkeep;\r\n{}\r\n\r\nOK\r\n"]
    assert [(s.name, s.active) for s in client.list_scripts()] == [("näme1", True), ("two", False)]
    assert client.get_script("two") == "keep;\r\n{}\r\n"


def test_names_with_line_breaks_are_never_sent(server) -> None:  # type: ignore[no-untyped-def]
    client, _, received = server
    with pytest.raises(SieveError, match="cannot hold line breaks"):
        client.set_active("a\r\nDELETESCRIPT b")
    assert received == []


def test_a_dropped_connection(server) -> None:  # type: ignore[no-untyped-def]
    client, replies, _ = server
    replies.append(b"{100}\r\nshort")
    with pytest.raises(SieveUnavailableError):
        client.get_script("a")
