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


def identity_of(raw: bytes) -> Identity:
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[: 256 * 1024])
    message_id = str(headers.get("Message-ID") or "").strip()
    if message_id:
        return Identity(message_id=message_id)
    # Servers match HEADER searches against decoded text (RFC 2047 words decoded).
    return Identity(
        date=decode_words(str(headers.get("Date") or "")),
        sender=decode_words(str(headers.get("From") or "")),
        subject=decode_words(str(headers.get("Subject") or "")),
    )


def date_of(raw: bytes) -> datetime | None:
    """When the message arrived: the newest Received line's date, else its Date header."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[: 256 * 1024])
    candidates = []
    received = headers.get_all("Received") or []
    if received:
        candidates.append(str(received[0]).rsplit(";", 1)[-1])
    candidates.append(str(headers.get("Date") or ""))
    return next((when for when in map(parse_date, candidates) if when is not None), None)
