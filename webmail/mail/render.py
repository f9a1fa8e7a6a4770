"""From fetched bytes to what the templates show: headers, safe body HTML, attachments, notices."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from html import escape

from webmail.limits import DEFAULT_LIMITS, Limits
from webmail.mail.charset import decode_bytes
from webmail.mail.headers import ESCAPED_BYTE, decode_raw_header, decode_words, parse_date
from webmail.mail.sanitize import SIMPLIFIED_NOTICE, html_as_text, sanitize_html, too_complex
from webmail.mail.structure import BodyPart, Layout, layout
from webmail.mail.text import text_to_html
from webmail.mail.transfer import decode_transfer

MAIN_HEADERS = ("From", "To", "Cc", "Reply-To", "Date", "Subject")
MAX_HEADER_LENGTH = 20_000
MAX_ADDRESSES = 1000  # of one header; a list page and a reply show no more


@dataclass(frozen=True)
class HeaderAddress:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass
class Headers:
    all: list[tuple[str, str]]
    subject: str
    from_: list[HeaderAddress]
    to: list[HeaderAddress]
    cc: list[HeaderAddress]
    reply_to: list[HeaderAddress]
    date: datetime | None
    message_id: str | None


@dataclass
class Attachment:
    section: str
    filename: str
    content_type: str
    size: int  # decoded size, estimated from the transfer encoding

    @property
    def previewable(self) -> bool:
        return self.content_type in PREVIEWABLE

    @property
    def is_image(self) -> bool:
        return self.content_type in PREVIEWABLE and self.content_type.startswith("image/")

    @property
    def icon(self) -> str:
        major = self.content_type.split("/")[0]
        if self.content_type == "application/pdf":
            return "pdf"
        if major in ("image", "audio", "video", "text"):
            return major
        if any(word in self.content_type for word in ("zip", "compressed", "tar", "gzip")):
            return "archive"
        return "file"


# Types shown in a sandboxed frame or as an image; anything else is download-only.
PREVIEWABLE = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)


@dataclass
class BodyBlock:
    """One shown part: safe HTML (ours, or sanitised mail HTML), or a nested message."""

    kind: str  # "text", "html" or "message"
    html: str = ""
    headers: Headers | None = None
    blocks: list[BodyBlock] = field(default_factory=list)


@dataclass
class MessageView:
    headers: Headers
    blocks: list[BodyBlock]
    attachments: list[Attachment]
    has_html: bool
    has_plain_alternative: bool
    remote_blocked: int
    trackers: list[str]
    notices: list[str]


def parse_headers(raw: bytes) -> Headers:
    """Parse a header block; never raises, whatever the bytes."""
    message = BytesHeaderParser(policy=compat32).parsebytes(raw[:1_000_000])
    raw_pairs = [(str(name), str(value)[:MAX_HEADER_LENGTH]) for name, value in message.raw_items()]
    pairs = [(name, decode_words(value)[:MAX_HEADER_LENGTH]) for name, value in raw_pairs]

    def first(name: str) -> str | None:
        return next((v for k, v in pairs if k.lower() == name.lower()), None)

    def addresses(name: str) -> list[HeaderAddress]:
        return parse_addresses([v for k, v in raw_pairs if k.lower() == name.lower()])

    return Headers(
        all=pairs,
        subject=first("Subject") or "",
        from_=addresses("From"),
        to=addresses("To"),
        cc=addresses("Cc"),
        reply_to=addresses("Reply-To"),
        date=parse_date(first("Date")),
        message_id=first("Message-ID"),
    )


# Encoded words stand aside while the list is split (their text may hold commas, "@" and "<").
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_WORD_MARK = "encodedword0wm"
_WORD_MARK_AGAIN = re.compile(rf"{_WORD_MARK}(\d+)x")


def parse_addresses(values: list[str], limit: int = MAX_ADDRESSES) -> list[HeaderAddress]:
    """Address header values as they arrived (encoded words still encoded) to addresses, at most
    ``limit``; never raises. The list is split first and only then are the display names decoded,
    so a name that decodes to ``, mallory@evil`` or a line break stays a name."""
    words: list[str] = []

    def hide(match: re.Match[str]) -> str:
        words.append(match.group(0))
        return f"{_WORD_MARK}{len(words) - 1}x"

    def shown(text: str) -> str:
        return _WORD_MARK_AGAIN.sub(
            lambda m: words[int(m.group(1))] if int(m.group(1)) < len(words) else "", text
        )

    try:
        parsed = getaddresses([_ENCODED_WORD.sub(hide, value) for value in values])
    except Exception:
        return [HeaderAddress(decode_words(v), "") for v in values[:limit]]
    found = []
    for name, email in parsed[:limit]:
        if name or email:
            found.append(HeaderAddress(decode_words(shown(name)), _eight_bit(shown(email)).strip()))
    return found


def _eight_bit(value: str) -> str:
    """Undeclared 8-bit bytes (an internationalised address) as text; no RFC 2047 decoding."""
    if ESCAPED_BYTE.search(value):
        return decode_raw_header(value.encode("utf-8", "surrogateescape"))
    return value


def estimated_size(part: BodyPart) -> int:
    return part.size * 3 // 4 if part.encoding == "base64" else part.size


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def attachment_name(part: BodyPart) -> str:
    """The name to save a part under: the sender's base name only (``../../x``, ``C:\\x`` and
    ``/etc/x`` are all ``x``), or ``part-<section>`` with an extension for its type."""
    base = re.split(r"[/\\]", _DRIVE.sub("", (part.filename or "").strip()))[-1]
    name = _CONTROL.sub("_", base).strip()
    if name in (".", ".."):
        name = ""
    if not name:
        extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "text/plain": ".txt",
                     "message/rfc822": ".eml", "text/html": ".html", "text/calendar": ".ics"}.get(part.content_type, "")  # fmt: skip
        name = f"part-{part.section}{extension}"
    return name[:200]


def decode_part(part: BodyPart, raw: bytes) -> tuple[str, list[str]]:
    """Transfer-decode and charset-decode one text part; returns the text and notices."""
    data, damaged = decode_transfer(raw, part.encoding)
    decoded = decode_bytes(data, part.charset)
    notices = []
    if damaged:
        notices.append("Part of this message was damaged in transit; some text may be missing.")
    if decoded.note:
        notices.append(decoded.note)
    return decoded.text, notices


def build_view(
    header: bytes,
    plan: Layout,
    contents: Mapping[str, bytes],
    *,
    truncated: frozenset[str] = frozenset(),
    cid_url: Callable[[str], str | None],
    allow_remote: bool,
    prefer_html: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> MessageView:
    notices: list[str] = []
    remote = [0]
    trackers: list[str] = []
    used_cids: set[str] = set()

    def blocks_for(plan: Layout, depth: int) -> list[BodyBlock]:
        blocks: list[BodyBlock] = []
        for part in plan.body:
            if part.content_type == "message/rfc822":
                if part.message is None or f"{part.section}.HEADER" not in contents:
                    continue
                inner = layout(part.message, prefer_html=prefer_html)
                nested = BodyBlock("message", headers=parse_headers(contents[f"{part.section}.HEADER"]))
                nested.blocks = blocks_for(inner, depth + 1)
                blocks.append(nested)
                continue
            raw = contents.get(part.section)
            if raw is None:
                continue
            text, part_notices = decode_part(part, raw)
            notices.extend(part_notices)
            if part.section in truncated:
                notices.append(
                    "This message is very long; only its beginning is shown. Download it to read all."
                )
            if part.content_type == "text/html" and too_complex(
                text, limits.max_html_bytes, limits.max_html_depth
            ):
                notices.append(SIMPLIFIED_NOTICE)
                blocks.append(BodyBlock("text", text_to_html(html_as_text(text))))
            elif part.content_type == "text/html":
                cleaned = sanitize_html(text, cid_url=cid_url, allow_remote=allow_remote)
                remote[0] += cleaned.remote_blocked
                trackers.extend(cleaned.trackers)
                used_cids.update(cleaned.cids_used)
                blocks.append(BodyBlock("html", cleaned.html))
            else:
                flowed = part.params.get("format", "").lower() == "flowed"
                delsp = part.params.get("delsp", "").lower() == "yes"
                blocks.append(BodyBlock("text", text_to_html(text, flowed=flowed, delsp=delsp)))
        return blocks

    blocks = blocks_for(plan, 0)
    used_parts = {id(part) for cid, part in plan.inline_resources.items() if cid in used_cids}
    attachments = [
        Attachment(part.section, attachment_name(part), part.content_type, estimated_size(part))
        for part in plan.attachments
        if id(part) not in used_parts and not part.is_multipart
    ]
    return MessageView(
        headers=parse_headers(header),
        blocks=blocks,
        attachments=attachments,
        has_html=plan.has_html,
        has_plain_alternative=plan.has_plain_alternative,
        remote_blocked=remote[0],
        trackers=sorted(set(trackers)),
        notices=list(dict.fromkeys(notices)),
    )


# A tag, its quoted attribute values included: nh3 leaves ">" unescaped inside them.
_TAG = re.compile(r"""(<(?:[^>"']|"[^"]*"|'[^']*')*>)""")
_ENTITY = re.compile(r"(&[#\w]+;)")


def highlight_html(html: str, words: list[str]) -> str:
    """Wrap searched words in <mark> in the text of safe HTML, never inside tags or entities."""
    terms = sorted({escape(word, quote=False) for word in words if word.strip()}, key=len, reverse=True)
    if not terms:
        return html
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    out = []
    for part in _TAG.split(html):
        if part.startswith("<"):
            out.append(part)
            continue
        pieces = _ENTITY.split(part)
        out.append(
            "".join(p if _ENTITY.fullmatch(p) else pattern.sub(r"<mark>\g<0></mark>", p) for p in pieces)
        )
    return "".join(out)


def highlight_view(view: MessageView, words: list[str]) -> MessageView:
    """The view with the words highlighted in every shown block, nested messages too: a copy, so
    a cached view stays as it was."""

    def visit(blocks: list[BodyBlock]) -> list[BodyBlock]:
        return [
            replace(block, blocks=visit(block.blocks))
            if block.kind == "message"
            else replace(block, html=highlight_html(block.html, words))
            for block in blocks
        ]

    return replace(view, blocks=visit(view.blocks))
