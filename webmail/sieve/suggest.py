""" "Filter messages like this": conditions suggested by a message's sender, list and subject."""

from __future__ import annotations

import re
from dataclasses import dataclass

from webmail.mail.render import Headers

_LIST_ID = re.compile(r"<([^<>\s]+)>")
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Suggestion:
    by: str  # "list", "from" or "subject": what the link says and the page's ``by`` parameter
    label: str
    field: str
    op: str
    value: str


def suggestions(headers: Headers) -> list[Suggestion]:
    """The conditions a rule for messages like this one could start from, best first: the
    mailing list (List-Id, RFC 2919), the sender's address, the subject without Re:/Fwd:."""
    found: list[Suggestion] = []
    list_id = next((value for name, value in headers.all if name.lower() == "list-id"), "")
    match = _LIST_ID.search(list_id)
    if match:
        found.append(
            Suggestion("list", f"Mailing list {match.group(1)}", "header:List-Id", "contains", match.group(1))
        )
    sender = next((address.email for address in headers.from_ if address.email), "")
    if sender:
        found.append(Suggestion("from", f"From {sender}", "from", "is", _one_line(sender)))
    subject = _one_line(_REPLY_PREFIX.sub("", headers.subject)).strip()
    if subject:
        found.append(Suggestion("subject", f"Subject {subject}", "subject", "contains", subject[:200]))
    return found


def _one_line(value: str) -> str:
    return re.sub(r"[\r\n\0]+", " ", value)
