"""A 200 MB export through a real `webmail serve` process stays within a memory bound."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.cluster import Server, signed_in_client, start_server, stop_server
from tests.conftest import MailUser
from webmail.devservices import DevServices

pytestmark = pytest.mark.integration

MB = 1024 * 1024
# What the server may grow by while streaming 200 MB: a few 4 MB fetch batches, imaplib's reads
# and the zip/mbox buffers, far below the export's size.
GROWTH_BOUND = 64 * MB


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def current_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS


def big_message(i: int, size: int) -> bytes:
    """An attachment-like message: base64 of random bytes (compresses little, as attachments do)."""
    encoded = base64.encodebytes(os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")
    body = b"From the start of a line\r\n" + encoded
    return (
        f"From: s{i}@example.org\r\nSubject: big {i}\r\nMessage-ID: <big{i}@example.org>\r\n\r\n".encode()
        + body
    )


@pytest.fixture(scope="module")
def exporting(
    services: DevServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, MailUser, int]]:
    """A user with 200 MB of mail and a `webmail serve` process of one worker to export it."""
    user = MailUser(services.dovecot.new_user("secret"), "secret")
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    total = 0
    for i, size in enumerate([1 * MB] * 150 + [10 * MB] * 5):  # fetched in batches, and in pieces
        raw = big_message(i, size)
        imap.append("INBOX", raw)
        total += len(raw)
    imap.logout()
    assert total >= 200 * MB
    server = start_server(services, tmp_path_factory.mktemp("export"), workers=1)
    try:
        yield server, user, total
    finally:
        stop_server(server)


@pytest.mark.parametrize("kind", ["mbox", "zip"])
def test_200_mb_export_stays_within_bound(exporting: tuple[Server, MailUser, int], kind: str) -> None:
    server, user, total = exporting
    pid = server.process.pid
    with signed_in_client(server.url, user.username, user.password) as client:
        warm = client.get("/mail/INBOX/export", params={"format": kind, "uids": "1"})
        assert warm.status_code == 200
        before = current_rss(pid)
        reset_peak(pid)
        received = 0
        head = b""
        with client.stream("GET", "/mail/INBOX/export", params={"format": kind}, timeout=300) as response:
            assert response.status_code == 200
            assert response.headers["content-disposition"].startswith("attachment;")
            for chunk in response.iter_bytes():
                if len(head) < 4096:
                    head += chunk[:4096]
                received += len(chunk)
        peak = peak_rss(pid)
    growth = peak - before
    print(
        f"{kind}: {received / MB:.0f} MB streamed, RSS {before / MB:.0f} MB before, peak {peak / MB:.0f} MB"
    )
    assert received >= total * 0.7
    assert growth < GROWTH_BOUND, (
        f"the server grew by {growth / MB:.0f} MB while exporting {received / MB:.0f} MB"
    )
    assert head.startswith(b"PK\x03\x04" if kind == "zip" else b"From s0@example.org ")
