"""Composing: parsing recipients, building the MIME message to send, its Sent copy and its
Drafts version. Replies, forwards and signatures are started in ``drafting.py``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, make_msgid, parseaddr

from webmail.errors import WebmailError
from webmail.limits import DEFAULT_LIMITS, Limits
from webmail.mail.editor import html_document, html_to_text, to_flowed
from webmail.mail.headers import decode_raw_header

_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+$")  # single-label domains (localhost) too
# "attached", "attachment", "enclosed", and the same in a few languages.
_MENTIONS_ATTACHMENT = re.compile(
    r"\b(attach(ed|ment|ments|ing)?|enclosed|anbei|angeh[äa]ngt|anhang|pi[èe]ce jointe|adjunto|allegat[oi])\b",
    re.IGNORECASE,
)


RECIPIENT_FIELDS = ("To", "Cc", "Bcc")
DRAFT_HEADER_PREFIX = "X-Webmail-Draft-"


class ComposeError(WebmailError):
    """Raised when the form cannot become a message; says what to fix. The text is kept."""

    status_code = 422


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Draft:
    sender: str  # the From header: "Name <address>"
    reply_to: str = ""
    bcc_self: bool = False  # a copy to the sender's own address, in the envelope only
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    in_reply_to: str = ""
    references: str = ""
    html: str = ""  # from the HTML editor, already sanitised; empty for plain text
    attachments: list[Attachment] = field(default_factory=list)


def parse_recipients(text: str, limit: int = DEFAULT_LIMITS.max_recipients) -> list[Address]:
    """``Name <a@b>, c@d; e@f`` (pasted lists too) to addresses; raises naming the bad ones, or
    the limit when there are more than ``limit``. A line break in a name is a space."""
    addresses: list[Address] = []
    bad: list[str] = []
    pieces = _split_list(text)
    if len(pieces) > limit:
        raise ComposeError(too_many_recipients(limit))
    for piece in pieces:
        name, email = parseaddr(" ".join(piece.split()))
        email = email.strip()
        bare = piece.strip().strip("<>")
        if not _EMAIL.match(email) or ("<" not in piece and bare != email):
            bad.append(piece.strip())
            continue
        user, domain = email.rsplit("@", 1)
        if user.isascii() and not domain.isascii():
            try:  # an IDN domain needs no SMTPUTF8 when written as A-labels
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                bad.append(piece.strip())
                continue
        addresses.append(Address(display_name=name.strip(), username=user, domain=domain))
    if bad:
        raise ComposeError(f"These addresses are not valid: {', '.join(bad)}.")
    return addresses


def too_many_recipients(limit: int) -> str:
    return f"A message may have at most {limit} recipients; nothing was sent."


def recipient_count(*fields: str) -> int:
    return sum(len(_split_list(text)) for text in fields)


def _split_list(text: str) -> list[str]:
    """Split on commas, semicolons and newlines outside quotes and angle brackets."""
    pieces, current, quoted, angle = [], "", False, False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            angle = True
        elif char == ">" and not quoted:
            angle = False
        if char in ",;\n" and not quoted and not angle:
            pieces.append(current)
            current = ""
        else:
            current += char
    pieces.append(current)
    return [piece for piece in (p.strip() for p in pieces) if piece]


def build_message(
    draft: Draft, *, now: datetime | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[EmailMessage, list[str]]:
    """The message to send, and every recipient address (Bcc included, not in the headers)."""
    if recipient_count(draft.to, draft.cc, draft.bcc) > limits.max_recipients:
        raise ComposeError(too_many_recipients(limits.max_recipients))
    for label, value in (("subject", draft.subject), ("sender", draft.sender), ("Reply-To", draft.reply_to),
                         ("In-Reply-To", draft.in_reply_to), ("References", draft.references)):  # fmt: skip
        if any(c in value for c in "\r\n\0"):
            raise ComposeError(f"Line breaks are not allowed in the {label}; nothing was sent.")
    to, cc, bcc = parse_recipients(draft.to), parse_recipients(draft.cc), parse_recipients(draft.bcc)
    if not (to or cc or bcc):
        raise ComposeError("Add at least one recipient.")
    everyone = [*to, *cc, *bcc, *parse_recipients(draft.reply_to), *parse_recipients(draft.sender)]
    # Non-ASCII before the @ (RFC 6531) is only written raw in UTF-8 headers; encoded words
    # would break the address. Sending then needs SMTPUTF8 (smtp/submit.py).
    utf8 = not all(address.username.isascii() for address in everyone)
    message = EmailMessage(policy=policy.default.clone(utf8=True) if utf8 else policy.default)
    message["From"] = draft.sender
    if to:
        message["To"] = to
    if cc:
        message["Cc"] = cc
    if draft.reply_to:
        message["Reply-To"] = parse_recipients(draft.reply_to)
    message["Subject"] = one_line(draft.subject)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    domain = draft.sender.rsplit("@", 1)[-1].strip(">").strip() or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
        message["References"] = " ".join([*draft.references.split(), draft.in_reply_to][-20:])
    message["User-Agent"] = "webmail"
    # Quoted-printable keeps the trailing spaces that mark flowed soft breaks intact in transit.
    message.set_content(to_flowed(_plain_text(draft)), params={"format": "flowed"}, cte="quoted-printable")
    _add_html_and_attachments(message, draft)
    recipients = [address.addr_spec for address in (*to, *cc, *bcc)]
    if draft.bcc_self:
        recipients += [address.addr_spec for address in parse_recipients(draft.sender)]
    return message, list(dict.fromkeys(recipients))


def copy_for_sent(message: EmailMessage, bcc: str) -> bytes:
    """The Sent folder's copy: the message as sent, plus the Bcc line only the sender sees."""
    if not bcc.strip():
        return bytes(message)
    copy: EmailMessage = message_from_bytes(bytes(message), policy=message.policy)
    copy["Bcc"] = parse_recipients(bcc)
    return bytes(copy)


def addresses_of(*fields: str) -> list[tuple[str, str]]:
    """(name, address) of every recipient in the fields (To, Cc, Bcc); a field that does not
    parse is left out."""
    pairs: list[tuple[str, str]] = []
    for text in fields:
        try:
            pairs += [(address.display_name, address.addr_spec) for address in parse_recipients(text)]
        except ComposeError:
            continue
    return pairs


def mentions_attachment(body: str) -> bool:
    """True if the text the user wrote (quoted ``>`` lines aside) speaks of an attachment."""
    own_text = "\n".join(line for line in body.split("\n") if not line.startswith(">"))
    return _MENTIONS_ATTACHMENT.search(own_text) is not None


def build_draft(
    draft: Draft,
    draft_id: str,
    reply_ref: str = "",
    reply_kind: str = "",
    *,
    now: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """The draft as a message for the Drafts folder: whatever was typed, valid or not yet."""
    message = EmailMessage()
    clean = {name: one_line(value) for name, value in (
        ("From", draft.sender), ("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc),
        ("Subject", draft.subject), ("In-Reply-To", draft.in_reply_to), ("References", draft.references),
    )}  # fmt: skip
    verbatim: list[tuple[str, str]] = []
    for name, value in clean.items():
        if not value:
            continue
        if name in RECIPIENT_FIELDS and recipient_count(value) > limits.max_recipients:
            # More than any message may have: too slow for the email package to fold and parse
            # (minutes for 20,000), so the line is written as typed, folded at the commas.
            verbatim.append((f"{DRAFT_HEADER_PREFIX}{name}", value))
            continue
        try:
            message[name] = value
        except (ValueError, IndexError, TypeError):
            message[f"{DRAFT_HEADER_PREFIX}{name}"] = value  # not parseable yet: kept verbatim
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["X-Webmail-Draft"] = draft_id
    if reply_ref:
        message["X-Webmail-Reply-Ref"] = " ".join(reply_ref.split())
        message["X-Webmail-Reply-Kind"] = "forward" if reply_kind == "forward" else "reply"
    message["MIME-Version"] = "1.0"
    message.set_content(_plain_text(draft).replace("\r\n", "\n"), cte="quoted-printable")
    _add_html_and_attachments(message, draft)
    return b"".join(_folded(name, value) for name, value in verbatim) + bytes(message)


def one_line(value: str) -> str:
    """A header value as one line: every run of whitespace (U+2028 and other line breaks too)
    is one space."""
    return " ".join(value.split())


def verbatim_fields(raw: bytes) -> dict[str, str]:
    """The fields a draft kept as typed (``X-Webmail-Draft-To`` and so on), by field name;
    read without the email package's header classes, which take seconds on long lists."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:10_000_000])
    return {
        name[len(DRAFT_HEADER_PREFIX) :]: decode_raw_header(str(value).encode("utf-8", "surrogateescape"))
        .replace("\r\n", "")
        .replace("\n", "")
        for name, value in headers.raw_items()
        if name.lower().startswith(DRAFT_HEADER_PREFIX.lower())
    }


def _folded(name: str, value: str) -> bytes:
    """``Name: value`` folded after commas into lines of about 78 characters."""
    pieces = [piece.strip() for piece in value.split(",") if piece.strip()]
    lines, line = [], f"{name}: "
    for index, piece in enumerate(pieces):
        text = piece + ("," if index < len(pieces) - 1 else "")
        if len(line) + len(text) > 76 and line.strip():
            lines.append(line.rstrip())
            line = " "
        line += text + " "
    lines.append(line.rstrip())
    return ("\r\n".join(lines) + "\r\n").encode()


def _plain_text(draft: Draft) -> str:
    """The text part: what was typed, or for an HTML draft its HTML as text."""
    return html_to_text(draft.html) if draft.html else draft.body


def _add_html_and_attachments(message: EmailMessage, draft: Draft) -> None:
    """After the text part, the same for a message sent and a draft kept: the HTML alternative
    of an HTML draft, then the attachments."""
    if draft.html:
        message.add_alternative(html_document(draft.html), subtype="html", cte="quoted-printable")
    for attachment in draft.attachments:
        _attach(message, attachment)


def _attach(message: EmailMessage, attachment: Attachment) -> None:
    if attachment.content_type == "message/rfc822":
        # A forwarded message stays a message (7bit/8bit, never base64: RFC 2046 5.2.1).
        inner = message_from_bytes(attachment.data, policy=policy.default)
        message.add_attachment(inner, filename=attachment.filename)
        return
    maintype, _, subtype = (attachment.content_type or "application/octet-stream").partition("/")
    message.add_attachment(attachment.data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=attachment.filename)  # fmt: skip
