"""The one line of text a message-list row shows under the subject.

Servers with PREVIEW (RFC 8970) say it themselves; for the others the list fetches the first
bytes of the text part the reader would show and this module turns them into the same kind of
line: no quoted lines, no markup, whitespace collapsed, at most ``PREVIEW_CHARS`` characters.
"""

from __future__ import annotations

import html
import re

from webmail.mail.charset import decode_bytes
from webmail.mail.structure import BodyPart, layout
from webmail.mail.transfer import decode_transfer

PREVIEW_CHARS = 200  # RFC 8970 §3: "no more than 256 characters"
PREVIEW_BYTES = 1024  # fetched of the text part when the server has no PREVIEW

_TAGS = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)
_SPACE = re.compile(r"\s+")


def preview_part(structure: BodyPart) -> BodyPart | None:
    """The part a preview is made from: the first plain-text part shown, else the first HTML one."""
    body = [part for part in layout(structure, prefer_html=False).body if part.maintype == "text"]
    return next((part for part in body if part.subtype == "plain"), body[0] if body else None)


def preview_text(raw: bytes, part: BodyPart) -> str:
    """The preview line from the first bytes of ``part`` (transfer-encoded, maybe cut mid-way)."""
    if part.encoding.strip().lower() == "base64":
        raw = raw[: len(raw) - len(raw) % 4]  # a cut in the middle of a quantum is not damage
    data, _ = decode_transfer(raw, part.encoding)
    text = decode_bytes(data, part.charset).text
    if part.subtype == "html":
        text = html.unescape(_TAGS.sub(" ", text))
    return clean(text)


def clean(text: str) -> str:
    """Quoted lines and the signature dropped, whitespace collapsed, cut at a word."""
    lines = []
    for line in text.splitlines():
        if line.rstrip() == "--":
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
    flat = _SPACE.sub(" ", " ".join(lines)).strip().replace("\ufffd", "")
    if len(flat) <= PREVIEW_CHARS:
        return flat
    cut = flat[:PREVIEW_CHARS].rsplit(" ", 1)[0]
    return cut + "…"
