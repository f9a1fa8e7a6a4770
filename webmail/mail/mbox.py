"""mbox (mboxrd) and .eml archives: writing one message at a time, reading any size in a stream.

Written as mboxrd: every line matching ``>*From `` gets one more ``>``, so reading undoes it
exactly, and the separator line is ``From <sender> <asctime>`` (the arrival date, UTC) after a
blank line. Lines end in LF in the file, as Unix mail tools expect; messages come back with CRLF
(what IMAP carries). The flags travel in ``Status`` and ``X-Status`` headers, which mutt,
Thunderbird and Dovecot's own mbox format read; reading takes them (and Thunderbird's
``X-Mozilla-Status``) off the message again, as Dovecot's mbox store does, so a message comes
back byte for byte.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO

from webmail.mail.headers import decode_words, parse_date

SEEN, ANSWERED, FLAGGED, DELETED, DRAFT, FORWARDED = (
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$Forwarded",
)
# Headers that belong to the mailbox file, not to the message (Dovecot hides the same from IMAP).
STATUS_HEADERS = (b"status", b"x-status", b"x-mozilla-status", b"x-mozilla-status2")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

_FROM_QUOTED = re.compile(rb"^>*From ")
_LINE_START_FROM = re.compile(rb"(?m)^(?=>*From )")
_FIELD = re.compile(rb"^[!-9;-~]+[ \t]*:")
_ADDRESS = re.compile(r"<?([^\s<>@]+@[^\s<>@]+)>?")
_NAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


# ---------------------------------------------------------------- writing


def from_line(sender: str, when: datetime | None) -> bytes:
    """The separator line: ``From addr@example.org Tue Dec  1 14:08:03 2026``."""
    found = _ADDRESS.search(sender or "")
    address = found.group(1) if found else "MAILER-DAEMON"
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    stamp = f"{moment:%a %b} {moment.day:2d} {moment:%H:%M:%S %Y}"
    return f"From {address} {stamp}\n".encode("ascii", "replace")


def status_headers(flags: Iterable[str]) -> bytes:
    """``Status`` and ``X-Status`` for these IMAP flags (none when nothing is set)."""
    flags = set(flags)
    status = ("R" if SEEN in flags else "") + "O"
    x_status = "".join(
        letter
        for flag, letter in ((ANSWERED, "A"), (FLAGGED, "F"), (DRAFT, "T"), (DELETED, "D"))
        if flag in flags
    )
    lines = f"Status: {status}\n"
    if x_status:
        lines += f"X-Status: {x_status}\n"
    return lines.encode("ascii")


def sender_of(head: bytes) -> str:
    """The envelope sender for the separator line: Return-Path, else the From address."""
    return header_value(head, b"return-path") or header_value(head, b"from")


def header_value(head: bytes, wanted: bytes) -> str:
    """The first ``wanted`` header (lowercase name) in the start of a message, unfolded and
    decoded; '' if the start holds none."""
    header = head.replace(b"\r\n", b"\n").partition(b"\n\n")[0]
    unfolded = re.sub(rb"\n[ \t]+", b" ", header)
    for line in unfolded.split(b"\n"):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == wanted:
            return decode_words(value)
    return ""


class MboxrdBody:
    """Quote and convert a message fed in chunks of any size (a line may span chunks)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return self._lines(data[:cut]) if cut else b""

    def finish(self) -> bytes:
        tail = self._lines(self._pending) if self._pending else b""
        self._pending = b""
        if tail:
            tail += b"\n"
        return tail + b"\n"

    @staticmethod
    def _lines(data: bytes) -> bytes:
        # Lines end in LF only here: splitting on every line boundary Python knows (form feed,
        # U+2028 bytes...) would quote a "From " the reader does not see as a line start.
        return _LINE_START_FROM.sub(b">", data.replace(b"\r\n", b"\n"))


def eml_name(index: int, when: datetime | None, subject: str) -> str:
    """A file name inside the zip: ``00001 2026-12-01 Subject words.eml`` (unique by its number)."""
    day = when.astimezone(UTC).strftime("%Y-%m-%d") if when else "undated"
    words = _NAME_UNSAFE.sub(" ", decode_words(subject)).strip()[:60].strip()
    return f"{index:05d} {day} {words or 'no subject'}.eml"


def zip_time(when: datetime | None) -> tuple[int, int, int, int, int, int]:
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    if moment.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


class ZipStream:
    """A write-only file for ``zipfile.ZipFile`` whose bytes are handed on as they are written.

    ZipFile writes to an unseekable file with data descriptors after each entry (ZIP64 with
    ``force_zip64``), so a zip of any size streams with one entry's chunk in memory at a time.
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class ImportEntry:
    """One message read from an upload: where it was (``position``, 1-based, and a label for the
    user), its bytes with CRLF line ends and without the mailbox's status headers, its flags and
    the date it arrived; ``problem`` says why it cannot be imported."""

    position: int
    label: str
    raw: bytes = b""
    flags: frozenset[str] = frozenset()
    when: datetime | None = None
    problem: str = ""


def parse_from_line_date(line: bytes) -> datetime | None:
    """The date of ``From sender Tue Dec  1 14:08:03 2026`` (UTC, as mbox writers use)."""
    parts = line.decode("ascii", "replace").split()
    if len(parts) < 7:
        return None
    try:
        when = datetime.strptime(" ".join(parts[2:7]), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        try:
            return parsedate_to_datetime(" ".join(parts[2:]))
        except (TypeError, ValueError, IndexError):
            return None
    return when.replace(tzinfo=UTC)


def read_mbox(stream: IO[bytes], *, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[ImportEntry]:
    """The messages of an mbox file, one at a time (mboxrd unquoting; mboxo's quoting reads the same)."""
    position = 0
    separator: bytes | None = None
    lines: list[bytes] = []
    size = 0
    too_large = False

    def finished() -> ImportEntry:
        body = lines[:-1] if lines and lines[-1] in (b"\n", b"\r\n") else lines
        label = f"message {position} of the mbox file"
        if too_large:
            return ImportEntry(position, label, problem=f"it is larger than {max_bytes // (1024 * 1024)} MB")
        return build_entry(
            position, label, b"".join(body), separator_date=parse_from_line_date(separator or b"")
        )

    for line in stream:
        if line.startswith(b"From ") and (separator is None or not lines or lines[-1] in (b"\n", b"\r\n")):
            if separator is not None or lines:
                yield finished()
            position += 1
            separator, lines, size, too_large = line, [], 0, False
            continue
        if separator is None and not lines:
            position = 1  # a file that does not start with a separator: its start is message 1
        if _FROM_QUOTED.match(line) and line.startswith(b">"):
            line = line[1:]
        size += len(line)
        if size > max_bytes:
            too_large = True
            lines = [b""]
            continue
        if not too_large:
            lines.append(line)
    if separator is not None or lines:
        yield finished()


def read_zip(upload: IO[bytes], *, max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[ImportEntry]:
    """The .eml (or .msg-less RFC 822) files of a zip, in the order they were stored."""
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError):
        yield ImportEntry(1, "the zip file", problem="it is not a readable zip file")
        return
    position = 0
    with archive:
        for info in archive.infolist():
            if info.is_dir() or info.filename.startswith("__MACOSX/"):
                continue
            position += 1
            label = info.filename
            if info.file_size > max_bytes:
                yield ImportEntry(
                    position, label, problem=f"it is larger than {max_bytes // (1024 * 1024)} MB"
                )
                continue
            if info.filename.lower().endswith((".mbox", ".mbx")):
                with archive.open(info) as inner:
                    for entry in read_mbox(inner, max_bytes=max_bytes):
                        yield ImportEntry(
                            position, f"{label}, message {entry.position}", entry.raw, entry.flags,
                            entry.when, entry.problem,
                        )  # fmt: skip
                continue
            try:
                raw = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                yield ImportEntry(position, label, problem=f"it cannot be read from the zip ({exc})")
                continue
            yield build_entry(position, label, raw)


def read_upload(
    upload: IO[bytes], filename: str, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> Iterator[ImportEntry]:
    """The messages of an uploaded mbox, .eml or zip file, told apart by their first bytes."""
    start = upload.read(5)
    upload.seek(0)
    if start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        yield from read_zip(upload, max_bytes=max_bytes)
    elif start == b"From " or filename.lower().endswith((".mbox", ".mbx")):
        yield from read_mbox(upload, max_bytes=max_bytes)
    else:
        raw = upload.read(max_bytes + 1)
        if len(raw) > max_bytes:
            yield ImportEntry(
                1, filename or "the file", problem=f"it is larger than {max_bytes // (1024 * 1024)} MB"
            )
        else:
            yield build_entry(1, filename or "the file", raw)


def build_entry(
    position: int, label: str, raw: bytes, *, separator_date: datetime | None = None
) -> ImportEntry:
    """An entry from one message's bytes: line ends made CRLF, status headers read and removed."""
    raw = to_crlf(raw)
    header, _, _ = raw.partition(b"\r\n\r\n")
    if not raw.strip():
        return ImportEntry(position, label, problem="it is empty")
    first = raw.split(b"\r\n", 1)[0]
    if not _FIELD.match(first):
        return ImportEntry(position, label, problem="it does not start with a mail header")
    if b"\x00" in raw:
        return ImportEntry(position, label, problem="it contains NUL bytes, which mail may not carry")
    cleaned, status = strip_status_headers(raw)
    flags = flags_from_status(status)
    when = separator_date or date_of_header(header)
    return ImportEntry(position, label, cleaned, flags, when)


def to_crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def strip_status_headers(raw: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    """The message without Status/X-Status/X-Mozilla-Status* lines, and their values."""
    header, separator, body = raw.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    status: dict[bytes, bytes] = {}
    dropping = False
    for line in header.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        name, colon, value = line.partition(b":")
        dropping = bool(colon) and name.strip().lower() in STATUS_HEADERS
        if dropping:
            status.setdefault(name.strip().lower(), value.strip())
        else:
            kept.append(line)
    if not status:
        return raw, status
    return b"\r\n".join(kept) + separator + body, status


def flags_from_status(status: dict[bytes, bytes]) -> frozenset[str]:
    """IMAP flags from mbox ``Status``/``X-Status`` letters and Thunderbird's ``X-Mozilla-Status``."""
    flags: set[str] = set()
    letters = status.get(b"status", b"") + status.get(b"x-status", b"")
    for letter, flag in ((b"R", SEEN), (b"A", ANSWERED), (b"F", FLAGGED), (b"T", DRAFT), (b"D", DELETED)):
        if letter in letters:
            flags.add(flag)
    mozilla = status.get(b"x-mozilla-status")
    if mozilla:
        try:
            bits = int(mozilla, 16)
        except ValueError:
            bits = 0
        for bit, flag in (
            (0x0001, SEEN),
            (0x0002, ANSWERED),
            (0x0004, FLAGGED),
            (0x0008, DELETED),
            (0x1000, FORWARDED),
        ):
            if bits & bit:
                flags.add(flag)
    return frozenset(flags)


def date_of_header(header: bytes) -> datetime | None:
    """The newest Received line's date, else the Date header (header block in CRLF)."""
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", header)
    received: str | None = None
    date: str | None = None
    for line in unfolded.split(b"\r\n"):
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"received" and received is None:
            received = value.decode("latin-1").rsplit(";", 1)[-1]
        elif key == b"date" and date is None:
            date = value.decode("latin-1")
    for candidate in (received, date):
        when = parse_date(candidate)
        if when is not None:
            return when
    return None


def message_id_of(raw: bytes) -> str:
    """The Message-ID as written (folded lines joined), or ''."""
    header = raw.partition(b"\r\n\r\n")[0]
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", header)
    for line in unfolded.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"message-id":
            return value.decode("latin-1").strip()
    return ""
