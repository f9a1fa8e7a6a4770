"""Which messages form one conversation.

The server's THREAD (RFC 5256) gives the folder's conversations in order; REFERENCES also gathers
every message with the same base subject, so two unrelated "Re: Lunch" threads would become one.
``conversations`` therefore regroups what one page shows by the messages' own links: a message
belongs with the messages it names in In-Reply-To or References, and with those naming the same
message (replies to a message that is in another folder). Only messages without any such header
are joined by subject alone, and only when they are close in time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SUBJECT_WINDOW = timedelta(days=3)  # "Lunch" and a reference-less "Re: Lunch" this close are one

_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw)\s*(?:\[\d+\])?\s*:|\[[^\]]*\])\s*", re.I)


@dataclass(frozen=True)
class Linked:
    """What threading needs to know of one message."""

    uid: int
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    date: datetime | None

    @property
    def ids(self) -> set[str]:
        named = set(self.references)
        if self.in_reply_to:
            named.add(self.in_reply_to)
        return named


def base_subject(subject: str) -> str:
    """The subject without Re:/Fwd:/[list] prefixes, case and spacing folded."""
    previous = None
    while previous != subject:
        previous, subject = subject, _PREFIX.sub("", subject)
    return " ".join(subject.split()).casefold()


def message_ids(header: str) -> tuple[str, ...]:
    """The ``<id>`` items of a References or In-Reply-To header value."""
    return tuple(re.findall(r"<[^<>\s]+>", header))


class _Groups:
    """Union-find over UIDs."""

    def __init__(self, uids: Iterable[int]) -> None:
        self.parent = {uid: uid for uid in uids}

    def root(self, uid: int) -> int:
        while self.parent[uid] != uid:
            self.parent[uid] = self.parent[self.parent[uid]]
            uid = self.parent[uid]
        return uid

    def join(self, a: int, b: int) -> None:
        self.parent[self.root(a)] = self.root(b)


def conversations(groups: Iterable[Sequence[int]], messages: dict[int, Linked]) -> list[list[int]]:
    """``groups`` (UIDs, as the server threaded them) regrouped by the messages' links.

    Each conversation lists its UIDs in arrival order; conversations come newest first. UIDs
    missing from ``messages`` (gone meanwhile) are dropped.
    """
    uids = list(dict.fromkeys(uid for group in groups for uid in group if uid in messages))
    found = _Groups(uids)
    by_id: dict[str, int] = {}
    for uid in uids:
        message_id = messages[uid].message_id
        if message_id:
            by_id.setdefault(message_id, uid)
    for uid in uids:
        for named in sorted(messages[uid].ids):
            if named in by_id:
                found.join(uid, by_id[named])
            else:
                by_id[named] = uid  # two replies to a message that is not here: one conversation
    _join_by_subject(uids, messages, found)
    grouped: dict[int, list[int]] = {}
    for uid in uids:
        grouped.setdefault(found.root(uid), []).append(uid)
    result = [sorted(members) for members in grouped.values()]
    result.sort(key=max, reverse=True)
    return result


def _join_by_subject(uids: list[int], messages: dict[int, Linked], found: _Groups) -> None:
    """Join conversations without any reference header, of the same base subject and within
    SUBJECT_WINDOW of each other."""
    linked = {found.root(uid) for uid in uids if messages[uid].ids}
    by_subject: dict[str, list[Linked]] = {}
    for uid in uids:
        message = messages[uid]
        if message.date is not None and found.root(uid) not in linked:
            by_subject.setdefault(base_subject(message.subject), []).append(message)
    for same in by_subject.values():
        same.sort(key=lambda m: m.date or datetime.min)
        for earlier, later in zip(same, same[1:], strict=False):
            if earlier.date and later.date and later.date - earlier.date <= SUBJECT_WINDOW:
                found.join(earlier.uid, later.uid)
