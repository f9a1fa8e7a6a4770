"""Header values: RFC 2047 encoded words and raw 8-bit bytes, decoded to text."""

from __future__ import annotations

import codecs
import re
from email.header import decode_header

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
_FOLDING = re.compile(r"\r?\n[ \t]*")


def decode_words(value: bytes | str | None) -> str:
    """Decode a header value that may hold encoded words (RFC 2047) or undeclared 8-bit bytes."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = decode_raw_header(value)
    elif any("\udc80" <= ch <= "\udcff" for ch in value):
        value = decode_raw_header(value.encode("utf-8", "surrogateescape"))
    value = _FOLDING.sub(" ", value)
    if "=?" not in value:
        return _CONTROL.sub("", value).strip()
    try:
        chunks = decode_header(value)
    except Exception:
        return _CONTROL.sub("", value).strip()
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
    return _CONTROL.sub("", text).strip()
