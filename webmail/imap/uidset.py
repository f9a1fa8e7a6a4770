"""UID sets (RFC 3501 ``sequence-set`` of UIDs, without ``*``): the one parser and writer.

A set that comes back from a browser (Undo's form) or a server (COPYUID) is kept as ranges;
``1:4000000000`` is two numbers, never four billion. Only ``expand`` makes a list, and only up
to a limit; a request's set is resolved against the folder's real messages by the server
(``UID SEARCH UID <set>``, see ``organize.existing_uids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_UID = 2**32 - 1  # nz-number (RFC 3501 section 9)


@dataclass(frozen=True)
class UIDSet:
    """Sorted, merged, non-overlapping inclusive ranges of UIDs."""

    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, uids: Iterable[int]) -> UIDSet:
        return cls(_merged((uid, uid) for uid in uids))

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __str__(self) -> str:
        return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in self.ranges)

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and any(low <= uid <= high for low, high in self.ranges)

    @property
    def span(self) -> int:
        """How many UIDs the set names (most of them may not exist)."""
        return sum(high - low + 1 for low, high in self.ranges)

    def expand(self, limit: int) -> list[int]:
        """Every UID in the set, ascending; ValueError if that is more than ``limit``."""
        if self.span > limit:
            raise ValueError(f"more than {limit} UIDs")
        return [uid for low, high in self.ranges for uid in range(low, high + 1)]

    def chunks(self, size: int) -> Iterator[UIDSet]:
        """The set in pieces of at most ``size`` ranges (a command line stays short)."""
        for start in range(0, len(self.ranges), size):
            yield UIDSet(self.ranges[start : start + size])


def parse_uid_set(text: str, *, max_ranges: int | None = None) -> UIDSet:
    """``"1,3:5"`` (either order within a range) to a UIDSet; ValueError if malformed, a UID is
    0 or beyond 2**32-1, or (with ``max_ranges``) it has more comma-separated parts than that."""
    parts = [part for part in text.strip().split(",") if part]
    if max_ranges is not None and len(parts) > max_ranges:
        raise ValueError("too many ranges")
    ranges: list[tuple[int, int]] = []
    for part in parts:
        ends = part.split(":")
        if len(ends) > 2:
            raise ValueError(f"not a range: {part[:40]!r}")
        low, high = (_uid(end) for end in (ends[0], ends[-1]))
        ranges.append((min(low, high), max(low, high)))
    return UIDSet(_merged(ranges))


def uid_set(uids: Iterable[int]) -> str:
    """UIDs as a set of single UIDs (``1,2,3,7``), in the order given; ``str(UIDSet.of(uids))``
    is the short form (``1:3,7``)."""
    return ",".join(str(uid) for uid in uids)


def _uid(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise ValueError(f"not a UID: {text[:40]!r}")
    value = int(text)
    if not 1 <= value <= MAX_UID:
        raise ValueError(f"not a UID: {value}")
    return value


def _merged(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)
