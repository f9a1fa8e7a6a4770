"""Recognising a message again: by Message-ID, or by its Date, From and Subject together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from webmail.mail.headers import decode_words, parse_date


@dataclass(frozen=True)
class Identity:
    """How to find a message again in the target folder: its Message-ID, or for messages
    without one its Date, From and Subject headers together."""

    message_id: str = ""
    date: str = ""
    sender: str = ""
    subject: str = ""


def _headers(raw: bytes) -> dict[str, list[str]]:
    """Header name (lowercase) -> raw values in order. Raw, because for 8-bit values compat32's
    get() gives a Header whose str() has lost the bytes to U+FFFD; decode_words reads them."""
    values: dict[str, list[str]] = {}
    for name, value in BytesHeaderParser(policy=compat32).parsebytes(raw[: 256 * 1024]).raw_items():
        values.setdefault(name.lower(), []).append(str(value))
    return values


def identity_of(raw: bytes) -> Identity:
    headers = _headers(raw)

    def first(name: str) -> str:
        return headers.get(name, [""])[0]

    message_id = first("message-id").strip()
    if message_id:
        return Identity(message_id=message_id)
    # Servers match HEADER searches against decoded text (RFC 2047 words decoded).
    return Identity(
        date=decode_words(first("date")),
        sender=decode_words(first("from")),
        subject=decode_words(first("subject")),
    )


def date_of(raw: bytes) -> datetime | None:
    """When the message arrived: the newest Received line's date, else its Date header."""
    headers = _headers(raw)
    candidates = [received.rsplit(";", 1)[-1] for received in headers.get("received", [])[:1]]
    candidates += headers.get("date", [])[:1]
    return next((when for when in map(parse_date, candidates) if when is not None), None)
