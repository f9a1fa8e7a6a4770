"""Starting a reply or a forward, and placing the signature.

Pure functions from plain values (the original's parsed headers, its plain text, the user's own
addresses) to a ``Draft`` for the compose page. The original is hostile input: header values are
made one line each (an encoded word may decode to a line break), display names are quoted so
the recipient fields split where they should, and addresses without an address are left out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import replace

from webmail.mail.compose import Draft
from webmail.mail.editor import html_to_text, text_to_editor_html
from webmail.mail.render import HeaderAddress, Headers

FORWARD_SEPARATOR = "---------- Forwarded message ----------"
SIGNATURE_SEPARATOR = "-- "  # RFC 3676 4.3: dash, dash, space, on a line of its own
ATTRIBUTION_DATE = "%a, %d %b %Y %H:%M"

_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_NAME_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # RFC 5322 specials: the name needs quotes


def one_line(value: str) -> str:
    """A header value as one line: every run of whitespace (line breaks too) becomes a space."""
    return " ".join(value.split())


def reply_subject(subject: str) -> str:
    """One ``Re:`` however many the original had (and its localised forms)."""
    stripped = re.sub(r"^(\s*(re|aw|sv|fw|fwd)\s*(\[\d+\])?:\s*)+", "", one_line(subject), flags=re.I)
    return f"Re: {stripped}"


def forward_subject(subject: str) -> str:
    """One ``Fwd:`` however many the original had."""
    stripped = re.sub(r"^(\s*(fw|fwd|wg)\s*:\s*)+", "", one_line(subject), flags=re.I)
    return f"Fwd: {stripped}"


def quote(text: str, attribution: str) -> str:
    """``text`` with every line marked ``>`` under its attribution line, after two empty lines
    for the answer."""
    lines = _LINE_BREAKS.split(text.rstrip("\r\n"))
    return f"\n\n{attribution}\n" + "\n".join(("> " + line) if line else ">" for line in lines) + "\n"


def address_text(address: HeaderAddress) -> str:
    """``Name <address>`` as the recipient fields take it back: a name with a comma or another
    special is quoted (``"Doe, John" <j@example.org>``); quotes inside it are dropped."""
    name = one_line(address.name.replace('"', "").replace("\\", ""))
    email = one_line(address.email)
    if not (name and email):
        return name or email
    if _NAME_SPECIALS.search(name):
        name = f'"{name}"'
    return f"{name} <{email}>"


def attribution(original: Headers) -> str:
    """``On <date>, <sender> wrote:``, with words where the original lacks a date or a sender."""
    return f"On {_when(original)}, {_who(original)} wrote:"


def reply_draft(
    original: Headers,
    text: str,
    *,
    sender: str,
    own_addresses: Collection[str] = (),
    reply_all: bool = False,
) -> Draft:
    """A reply to ``original``: to its Reply-To (else its From) addresses; with ``reply_all``
    also to its other To and Cc addresses except ``own_addresses`` and the ones already in To.
    The subject gets one ``Re:``, the text is quoted, In-Reply-To and References thread it."""
    to = [address for address in (original.reply_to or original.from_) if address.email]
    cc: list[HeaderAddress] = []
    if reply_all:
        taken = {address.lower() for address in own_addresses} | {a.email.lower() for a in to}
        for address in (*original.to, *original.cc):
            if address.email and address.email.lower() not in taken:
                taken.add(address.email.lower())
                cc.append(address)
    references = next((value for name, value in original.all if name.lower() == "references"), "")
    return Draft(
        sender=sender,
        to=_joined(to),
        cc=_joined(cc),
        subject=reply_subject(original.subject),
        body=quote(text, attribution(original)),
        in_reply_to=one_line(original.message_id or ""),
        references=one_line(references),
    )


def forward_draft(original: Headers, text: str, *, sender: str, inline: bool = True) -> Draft:
    """A forward of ``original``: ``Fwd:`` subject and, ``inline``, its text under a block of
    its main headers (otherwise the original goes as an attachment and the body starts empty)."""
    draft = Draft(sender=sender, subject=forward_subject(original.subject))
    if inline:
        header_lines = [
            f"From: {_who(original)}",
            f"Date: {_when(original)}",
            f"Subject: {one_line(original.subject)}",
            f"To: {_joined(original.to)}",
        ]
        draft.body = f"\n\n{FORWARD_SEPARATOR}\n" + "\n".join(header_lines) + "\n\n" + text
    return draft


def add_signature(draft: Draft, *, text: str, html: str, html_mode: bool) -> Draft:
    """The signature above any quoted text, after the ``-- `` line; with ``html_mode`` also in
    the HTML editor's markup. ``html`` is editor HTML, sanitised when the identity was saved;
    each form stands in for the other when only one is set."""
    if not (text or html):
        return draft
    quoted = draft.body
    signed = replace(
        draft, body=f"\n\n{SIGNATURE_SEPARATOR}\n" + (text or html_to_text(html).strip()) + quoted
    )
    if html_mode:
        signature_html = html or text_to_editor_html(text)
        signed.html = (
            f"<div><br></div><div>{SIGNATURE_SEPARATOR}</div>" + signature_html + text_to_editor_html(quoted)
        )
    return signed


def _when(original: Headers) -> str:
    return original.date.strftime(ATTRIBUTION_DATE) if original.date else "an unknown date"


def _who(original: Headers) -> str:
    return address_text(original.from_[0]) if original.from_ else "someone"


def _joined(addresses: Iterable[HeaderAddress]) -> str:
    return ", ".join(address_text(address) for address in addresses)
