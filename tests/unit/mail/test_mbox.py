"""mboxrd writing and reading, status headers and flags, without a server."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.mbox import (
    MboxrdBody,
    ZipStream,
    flags_from_status,
    from_line,
    read_mbox,
    read_upload,
    status_headers,
    strip_status_headers,
)

WHEN = datetime(2026, 12, 1, 14, 8, 3, tzinfo=UTC)


def mbox_of(messages: list[bytes], chunk: int = 7) -> bytes:
    out = b""
    for raw in messages:
        out += from_line("Someone <a@example.org>", WHEN) + status_headers(["\\Seen"])
        writer = MboxrdBody()
        for start in range(0, len(raw), chunk):  # lines split across chunks, CR apart from LF
            out += writer.feed(raw[start : start + chunk])
        out += writer.finish()
    return out


lines = st.lists(
    st.sampled_from(
        [b"From here", b">From there", b">>From x", b"From ", b"", b"plain text", b" From", b"\xc3\xa9"]
    ),
    max_size=12,
)


@given(st.lists(lines, min_size=1, max_size=4))
def test_mboxrd_round_trip_is_byte_exact(bodies: list[list[bytes]]) -> None:
    messages = [b"Subject: s\r\n\r\n" + b"".join(line + b"\r\n" for line in body) for body in bodies]
    entries = list(read_mbox(io.BytesIO(mbox_of(messages))))
    assert [entry.raw for entry in entries] == messages
    assert all(entry.flags == {"\\Seen"} and entry.when == WHEN for entry in entries)


def test_separator_line_and_status() -> None:
    assert from_line("Ann <ann@example.org>", WHEN) == b"From ann@example.org Tue Dec  1 14:08:03 2026\n"
    assert from_line("", WHEN).startswith(b"From MAILER-DAEMON ")
    assert status_headers(["\\Seen", "\\Answered", "\\Flagged"]) == b"Status: RO\nX-Status: AF\n"


def test_status_headers_are_read_and_removed() -> None:
    raw = b"Status: RO\r\nSubject: a\r\nX-Mozilla-Status: 1003\r\nX-Mozilla-Status2: 00000000\r\n\r\nStatus: body\r\n"
    cleaned, status = strip_status_headers(raw)
    assert cleaned == b"Subject: a\r\n\r\nStatus: body\r\n"
    assert flags_from_status(status) == {"\\Seen", "\\Answered", "$Forwarded"}


def test_an_mbox_without_separator_and_a_bad_block() -> None:
    data = b"Subject: first\n\nbody\n\nFrom x Tue Dec  1 14:08:03 2026\nno header at all\n"
    first, second = read_mbox(io.BytesIO(data))
    assert first.raw == b"Subject: first\r\n\r\nbody\r\n"
    assert (second.position, second.problem) == (2, "it does not start with a mail header")


def test_upload_kinds_are_told_apart() -> None:
    eml = b"Subject: one\r\n\r\nbody\r\n"
    assert [e.raw for e in read_upload(io.BytesIO(eml), "a.eml")] == [eml]
    sink = ZipStream()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("a.eml", eml)
        archive.writestr("b.eml", b"\x00\x01")
    zipped = io.BytesIO(sink.take())
    good, bad = read_upload(zipped, "x.zip")
    assert good.raw == eml
    assert (bad.label, bad.problem) == ("b.eml", "it does not start with a mail header")
    assert [e.problem for e in read_upload(io.BytesIO(b"PK\x03\x04broken"), "x.zip")] == [
        "it is not a readable zip file"
    ]
