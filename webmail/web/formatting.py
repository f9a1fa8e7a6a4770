"""Template filters: dates in the user's time zone, sizes, addresses."""

from __future__ import annotations

import functools
import logging
import re
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape

logger = logging.getLogger(__name__)


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


def _list_date(value: datetime | None, tz: tzinfo, now: datetime | None = None) -> str:
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


def _message_date(value: datetime | None, tz: tzinfo, now: datetime | None = None) -> str:
    """The reader's date: "09:12" today, "Fri 6 Nov, 14:32" this year, "6 Nov 2025, 14:32" before."""
    if value is None:
        return ""
    local = _aware(value).astimezone(tz)
    today = (now or datetime.now(UTC)).astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if local.year == today.year:
        return f"{local.strftime('%a')} {local.day} {local.strftime('%b, %H:%M')}"
    return f"{local.day} {local.strftime('%b %Y, %H:%M')}"


def _full_date(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return ""
    local = _aware(value).astimezone(tz)
    return f"{local.strftime('%a')}, {local.day} {local.strftime('%b %Y %H:%M')} ({local.tzname()})"


def _never_raises(render: Callable[..., str]) -> Callable[..., str]:
    """A date filter that cannot break a page: a date it cannot show is "unknown date"."""

    @functools.wraps(render)
    def safe(value: datetime | None, *args: Any, **kwargs: Any) -> str:
        try:
            return render(value, *args, **kwargs)
        except (ValueError, OverflowError, TypeError, AttributeError):
            logger.warning("a date could not be shown: %.60r", value)
            return UNKNOWN_DATE

    return safe


UNKNOWN_DATE = "unknown date"
list_date = _never_raises(_list_date)
message_date = _never_raises(_message_date)
full_date = _never_raises(_full_date)


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


def relative_date(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words, for the last week: "5 minutes ago", "yesterday"; else ""."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - _aware(value)).total_seconds()
    if seconds < 0:
        return ""
    for limit, size, unit in (
        (60, 0, ""),
        (3600, 60, "minute"),
        (86400, 3600, "hour"),
        (7 * 86400, 86400, "day"),
    ):
        if seconds < limit:
            if not size:
                return "just now"
            amount = int(seconds // size)
            if unit == "day" and amount == 1:
                return "yesterday"
            return f"{amount} {unit}{'s' if amount != 1 else ''} ago"
    return ""


def initials(addresses: Sequence[object]) -> str:
    """One or two letters for an avatar: "Alice Martin" → "AM", "helpdesk@…" → "H"."""
    if not addresses:
        return "?"
    first = addresses[0]
    name = getattr(first, "name", "") or str(getattr(first, "email", first)).split("@")[0]
    words = [word for word in re.split(r"[\s._-]+", name) if word[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def hue(addresses: Sequence[object]) -> int:
    """A stable colour (0–7) per sender, for the avatar."""
    email = getattr(addresses[0], "email", "") if addresses else ""
    return zlib.crc32(str(email).lower().encode()) % 8


def _display(address: object) -> str:
    return str(getattr(address, "name", "") or getattr(address, "email", "") or address)


def _is_me(address: object, me: str) -> bool:
    return str(getattr(address, "email", "")).lower() == me.lower()


def participants(senders: Sequence[Sequence[object]], me: str) -> str:
    """A conversation's senders in order, each once: "Alice, me" (first names when several)."""
    seen: list[object] = []
    emails: set[str] = set()
    for addresses in senders:
        if addresses:
            email = str(getattr(addresses[0], "email", "")).lower()
            if email not in emails:
                emails.add(email)
                seen.append(addresses[0])
    if len(seen) == 1:
        return "me" if _is_me(seen[0], me) else getattr(seen[0], "display", str(seen[0]))
    words = []
    for address in seen:
        display = str(getattr(address, "display", address))
        words.append(
            "me" if _is_me(address, me) else display.split()[0] if getattr(address, "name", "") else display
        )
    return ", ".join(words)


def recipients(to: Sequence[object], cc: Sequence[object], me: str) -> str:
    """The reader's short "to me, 3 others" line."""
    everyone = [*to, *cc]
    if not everyone:
        return "to undisclosed recipients"
    mine = next((a for a in everyone if _is_me(a, me)), None)
    first = mine or everyone[0]
    name = "me" if mine else _display(first)
    others = len(everyone) - 1
    return f"to {name}" + (f", {others} other{'s' if others != 1 else ''}" if others else "")
