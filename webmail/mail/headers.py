"""Header values: RFC 2047 encoded words and raw 8-bit bytes decoded to text; dates."""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header
from email.utils import parsedate_to_datetime

from webmail.mail.charset import decode_bytes


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", "replace"), error.end


codecs.register_error("webmail-cp1252", _cp1252_fallback)


def decode_raw_header(value: bytes) -> str:
    """Undeclared 8-bit header bytes: UTF-8 where valid, Windows-1252 for the rest (mixed happens)."""
    return value.replace(b"\x00", b"").decode("utf-8", "webmail-cp1252")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Undeclared 8-bit bytes that reached a str through surrogateescape.
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_FOLDING = re.compile(r"\r?\n[ \t]*")
# A line break decoded from an encoded word (=0D=0A) would end the header line if a value
# were ever written back into a header (a reply's References, a Subject).
_BREAK = re.compile(r"[\r\n]+")


def decode_words(value: bytes | str | None) -> str:
    """Decode a header value that may hold encoded words (RFC 2047) or undeclared 8-bit bytes."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = decode_raw_header(value)
    elif ESCAPED_BYTE.search(value):
        value = decode_raw_header(value.encode("utf-8", "surrogateescape"))
    value = _FOLDING.sub(" ", value)
    if "=?" not in value:
        return _clean(value)
    try:
        chunks = decode_header(value)
    except Exception:
        return _clean(value)
    parts: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            parts.append(decode_bytes(chunk, charset).text)
        else:
            parts.append(chunk)
    # decode_header drops the whitespace between an encoded word and plain text.
    text = ""
    for index, (part, (_, charset)) in enumerate(zip(parts, chunks, strict=True)):
        if index and (charset is None) != (chunks[index - 1][1] is None):
            if not text.endswith(" ") and not part.startswith(" "):
                text += " "
        text += part
    return _clean(text)


def _clean(text: str) -> str:
    return _CONTROL.sub("", _BREAK.sub(" ", text)).strip()


# A day inside datetime's range on each side, so the date shows in every time zone.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def parse_date(value: str | None) -> datetime | None:
    """A Date value (RFC 5322 section 3.3) as an aware datetime; None when it is missing or
    unparsable, has no zone (``-0000``), or could not be shown in some time zone (year 9999
    at -1200 is past the largest datetime in UTC)."""
    if not value:
        return None
    try:
        return showable(parsedate_to_datetime(value.strip()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def showable(when: datetime | None) -> datetime | None:
    """``when`` if it has a zone and can be shown in every time zone; else None (a server's
    ENVELOPE passes year 9999 at -1200 on as it came)."""
    try:
        if when is None or when.tzinfo is None or not _EARLIEST <= when.astimezone(UTC) <= _LATEST:
            return None
    except (ValueError, OverflowError):
        return None
    return when
