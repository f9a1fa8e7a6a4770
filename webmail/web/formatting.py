"""Template filters: dates in the user's time zone, sizes, addresses."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape


def zone(name: str | None) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def _aware(value: datetime) -> datetime:
    """SQLite gives back naive datetimes; the app stores UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_date(value: datetime | None, tz: tzinfo, now: datetime | None = None) -> str:
    """Today: the time; this year: day and month; otherwise the full date."""
    if value is None:
        return ""
    local = _aware(value).astimezone(tz)
    today = (now or datetime.now(UTC)).astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if local.year == today.year:
        return f"{local.day} {local.strftime('%b')}"
    return f"{local.day} {local.strftime('%b %Y')}"


def full_date(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return ""
    local = _aware(value).astimezone(tz)
    return f"{local.strftime('%a')}, {local.day} {local.strftime('%b %Y %H:%M')} ({local.tzname()})"


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def names(addresses: Sequence[object]) -> str:
    return ", ".join(getattr(a, "display", None) or str(a) for a in addresses)


_MARK = Markup("<mark>{}</mark>")


def highlight(text: str, words: Sequence[str]) -> Markup:
    """``text`` escaped, each searched word in it wrapped in <mark>."""
    terms = sorted({word for word in words if word.strip()}, key=len, reverse=True)
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    pieces: list[str | Markup] = []
    position = 0
    for match in pattern.finditer(text):
        pieces += [text[position : match.start()], _MARK.format(match.group(0))]
        position = match.end()
    pieces.append(text[position:])
    return Markup("").join(pieces)  # escapes the plain pieces
