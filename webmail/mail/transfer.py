"""Content-Transfer-Encoding (RFC 2045): decoding that tolerates broken input."""

from __future__ import annotations

import binascii
import quopri
import re

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def decode_transfer(data: bytes, encoding: str | None) -> tuple[bytes, bool]:
    """Decode ``data``; returns the bytes and whether the input was damaged."""
    encoding = (encoding or "7bit").strip().lower()
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        return quopri.decodestring(data), False
    return data, False


_WHITESPACE = re.compile(rb"[\s]")


def decode_base64(data: bytes) -> tuple[bytes, bool]:
    body, _, after = data.partition(b"=")  # anything after the padding is junk
    cleaned = _NOT_BASE64.sub(b"", body)
    stray = len(_WHITESPACE.sub(b"", body)) != len(cleaned) or bool(
        _NOT_BASE64.sub(b"", after.replace(b"=", b""))
    )
    # Two or three characters of a last quantum still make one or two bytes; one makes none.
    dangling = len(cleaned) % 4 == 1
    usable = cleaned[:-1] if dangling else cleaned
    usable += b"=" * (-len(usable) % 4)
    damaged = stray or dangling
    try:
        return binascii.a2b_base64(usable), damaged
    except binascii.Error:
        return b"", True


class StreamDecoder:
    """Decode a transfer encoding chunk by chunk, for streaming attachments of any size."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = (encoding or "7bit").strip().lower()
        self._pending = b""
        self._ended = False

    def feed(self, chunk: bytes) -> bytes:
        if self.encoding == "base64":
            if self._ended:
                return b""
            body, padding, _ = chunk.partition(b"=")
            data = self._pending + _NOT_BASE64.sub(b"", body)
            if padding:
                self._ended = True
                self._pending = b""
                return decode_base64(data)[0]
            usable = len(data) - len(data) % 4
            self._pending = data[usable:]
            return binascii.a2b_base64(data[:usable]) if usable else b""
        if self.encoding == "quoted-printable":
            data = self._pending + chunk
            cut = data.rfind(b"\n") + 1
            self._pending = data[cut:]
            return quopri.decodestring(data[:cut]) if cut else b""
        return chunk

    def finish(self) -> bytes:
        pending, self._pending = self._pending, b""
        if not pending:
            return b""
        if self.encoding == "base64":
            return decode_base64(pending)[0]
        if self.encoding == "quoted-printable":
            return quopri.decodestring(pending)
        return pending
