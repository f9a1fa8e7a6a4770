"""Turning bytes of an unknown or lying charset into text, never raising."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import lru_cache

from charset_normalizer import from_bytes

# Labels mail software gets wrong, mapped to what they mean in practice (WHATWG Encoding).
ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
}
DETECT_LIMIT = 64 * 1024
# Undeclared 8-bit mail is overwhelmingly one of these; limiting detection to them keeps short
# Western text from being taken for Central European (cp1250 and cp1252 look alike to a detector).
LIKELY = [
    "cp1252",
    "cp1251",
    "koi8_r",
    "iso8859_7",
    "shift_jis",
    "euc_jp",
    "iso2022_jp",
    "gb18030",
    "big5",
    "euc_kr",
]


@dataclass(frozen=True)
class DecodedText:
    text: str
    charset: str
    note: str | None = None


def lookup(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None if unknown or not a text encoding."""
    if not label:
        return None
    label = label.strip().strip('"').lower()
    label = ALIASES.get(label, label)
    return _text_codec(label) if label else None


@lru_cache(maxsize=256)
def _text_codec(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
        # Mail may name any codec Python has: bytes-to-bytes ones (base64, rot13, zlib) and
        # those that refuse "replace" (idna, punycode, undefined) would raise on every decode.
        b"\xff".decode(name, "replace")
    except (LookupError, ValueError):  # UnicodeError and "embedded null character" are ValueErrors
        return None
    return name


def decode_bytes(data: bytes, declared: str | None = None) -> DecodedText:
    """Decode with the declared charset; if absent or wrong, detect; last resort UTF-8 with U+FFFD."""
    codec = lookup(declared)
    if codec is not None:
        # NUL bytes are damage, except in UTF-16 and UTF-32, where most characters hold one.
        wide = codec.startswith(("utf-16", "utf-32"))
        own = data if wide else data.replace(b"\x00", b"")
        try:
            return DecodedText(own.decode(codec).replace("\x00", ""), codec)
        except UnicodeError:
            lenient = own.decode(codec, "replace").replace("\x00", "")
            # A few bad bytes (damage in transit) do not make the declared charset wrong.
            if lenient.count("\ufffd") <= max(3, len(lenient) // 100):
                return DecodedText(lenient, codec, "Some characters could not be decoded.")
    data = data.replace(b"\x00", b"")
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", _note(declared, codec, "utf-8"))
    except UnicodeDecodeError:
        pass
    sample = data[:DETECT_LIMIT]
    best = from_bytes(sample, cp_isolation=LIKELY).best() or from_bytes(sample).best()
    if best is not None and best.encoding:
        detected = codecs.lookup(best.encoding).name
        return DecodedText(data.decode(detected, "replace"), detected, _note(declared, codec, detected))
    fallback = codec or "utf-8"
    return DecodedText(data.decode(fallback, "replace"), fallback, "Some characters could not be decoded.")


def _note(declared: str | None, codec: str | None, used: str) -> str | None:
    if declared and codec is None:
        return f"Unknown character set “{declared}”; shown as {used}."
    if declared and codec and codec != used:
        return f"The text is not valid {declared}; shown as {used}."
    return None
