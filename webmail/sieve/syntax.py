"""Writing Sieve (RFC 5228) values safely: strings, string lists, multi-line text, numbers.

A quoted string escapes only backslash and double quote (section 2.4.2): any other byte stands
for itself, so nothing a user types can end the string early or add a command. Values that
must stay on one line (header names and keys, folders, flags, addresses) refuse CR, LF and NUL;
free text that may span lines (a vacation reply, a reject reason) is written as ``text:``
with dot-stuffing (section 2.4.2, multi-line strings). Neither "encoded-character" nor
"variables" is ever required, so ``${...}`` in a value is plain text (RFC 5228 2.4.2.4,
RFC 5229 section 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from webmail.sieve.errors import RuleError

NEWLINE = "\r\n"
_LINE_BREAK = re.compile(r"[\r\n\0]")
_SIZE = re.compile(r"^\s*(\d{1,9})\s*([KMG]?)B?\s*$", re.IGNORECASE)


def one_line(field: str, value: str) -> str:
    """``value`` unchanged, or RuleError when it holds a line break or NUL."""
    if _LINE_BREAK.search(value):
        raise RuleError(field, f"{field}: line breaks cannot be used here.")
    return value


def quote(value: str) -> str:
    """A Sieve quoted string for ``value``, which must not hold a line break (see one_line)."""
    if _LINE_BREAK.search(value):
        raise ValueError("quoted Sieve strings are kept on one line")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_list(values: Iterable[str]) -> str:
    items = [quote(value) for value in values]
    return items[0] if len(items) == 1 else "[" + ", ".join(items) + "]"


def text_block(value: str) -> str:
    """A multi-line string: ``text:`` CRLF, the lines (a leading dot doubled), ``.`` CRLF."""
    if "\0" in value:
        raise ValueError("NUL cannot be written in a Sieve script")
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stuffed = ["." + line if line.startswith(".") else line for line in lines]
    return "text:" + NEWLINE + NEWLINE.join(stuffed) + NEWLINE + "." + NEWLINE


def size(field: str, value: str) -> str:
    """A Sieve number with an optional K/M/G quantifier, e.g. ``5M`` (section 2.4.1)."""
    match = _SIZE.match(value)
    if not match:
        raise RuleError(field, f"{field}: write a size such as 500K or 5M.")
    return f"{int(match.group(1))}{match.group(2).upper()}"


def size_bytes(value: str) -> int:
    """The octets a Sieve number with quantifier stands for."""
    number, unit = value[:-1], value[-1:]
    if not unit.isalpha():
        return int(value)
    return int(number) * {"K": 1024, "M": 1024**2, "G": 1024**3}[unit]
