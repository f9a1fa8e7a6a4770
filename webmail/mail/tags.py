"""Tags are IMAP keywords. Thunderbird's five labels ($label1-$label5) keep their names and
colours here, so tags set in either program show in the other."""

from __future__ import annotations

import re
from dataclasses import dataclass

LABELS = {
    "$label1": ("Important", "red"),
    "$label2": ("Work", "orange"),
    "$label3": ("Personal", "green"),
    "$label4": ("To do", "blue"),
    "$label5": ("Later", "purple"),
}
# Keywords that are machinery, not tags a person chose (RFC 5788 registry, Thunderbird, Apple).
HIDDEN = {
    "$junk", "$notjunk", "junk", "nonjunk", "notjunk", "$forwarded", "$mdnsent", "$submitpending",
    "$submitted", "$phishing", "$important", "$hasattachment", "$hasnoattachment", "$seen",
}  # fmt: skip
KEYWORD = re.compile(r"^\$?[A-Za-z0-9_.\-]{1,64}\Z")  # \Z: "$" would let a final newline into STORE


@dataclass(frozen=True)
class Tag:
    keyword: str
    name: str
    colour: str  # a CSS class suffix; "plain" for keywords without a colour


def tags_of(keywords: tuple[str, ...] | frozenset[str]) -> list[Tag]:
    """The keywords worth showing, Thunderbird's labels first in their order."""
    tags = []
    for keyword in sorted(keywords, key=lambda k: (k.lower() not in LABELS, k.lower())):
        lowered = keyword.lower()
        if lowered in LABELS:
            name, colour = LABELS[lowered]
            tags.append(Tag(lowered, name, colour))
        elif (
            lowered not in HIDDEN and not keyword.startswith("\\") and not lowered.startswith("$mailflagbit")
        ):
            tags.append(Tag(keyword, keyword, "plain"))
    return tags


def valid_keyword(keyword: str) -> bool:
    """A keyword the user may set: an IMAP atom without wildcards or backslash (RFC 3501 flag-keyword)."""
    return bool(KEYWORD.match(keyword)) and keyword.lower() not in HIDDEN
