"""The vacation reply (RFC 5230 ``vacation``, dated with RFC 5260 ``currentdate``) and the
forwarding of all mail (``redirect``, RFC 5228 4.2, with RFC 3894 ``:copy`` to keep a copy)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from webmail.sieve.errors import RuleError
from webmail.sieve.syntax import NEWLINE, one_line, quote, string_list, text_block

ADDRESS = re.compile(r"^[^\s@\"(),:;<>\[\]\\]+@[^\s@\"(),:;<>\[\]\\]+\.?[^\s@\"(),:;<>\[\]\\]*$")
MAX_DAYS = 365
MAX_TEXT = 10_000


def check_address(field: str, value: str) -> str:
    """A bare address (``anna@example.org``), or RuleError naming ``field``."""
    value = one_line(field, value.strip())
    if not ADDRESS.match(value):
        raise RuleError(field, f"{field}: {value or 'an empty value'} is not an e-mail address.")
    return value


@dataclass(frozen=True)
class Vacation:
    """An automatic reply, sent at most once per sender every ``days`` days."""

    enabled: bool = False
    subject: str = ""
    body: str = ""
    start: date | None = None
    end: date | None = None
    days: int = 7
    addresses: tuple[str, ...] = ()  # the user's own addresses it answers for

    @classmethod
    def from_form(cls, form: Mapping[str, str], addresses: tuple[str, ...]) -> Vacation:
        """Read the fields ``enabled``, ``subject``, ``body``, ``start``, ``end``, ``days``."""
        enabled = form.get("enabled", "") in ("on", "1", "true", "yes")
        subject = one_line("Subject", form.get("subject", "").strip())
        body = form.get("body", "").replace("\r\n", "\n").strip()
        if enabled and not body:
            raise RuleError("body", "Reply text: write the text of the reply.")
        if len(body) > MAX_TEXT or len(subject) > 500:
            raise RuleError("body", "Reply text: this is too long for a vacation reply.")
        start, end = _date("start", form.get("start", "")), _date("end", form.get("end", ""))
        if start and end and end < start:
            raise RuleError("end", "Last day: must not be before the first day.")
        raw_days = form.get("days", "").strip() or "7"
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
            raise RuleError("days", f"Days between replies: a whole number from 1 to {MAX_DAYS}.")
        own = tuple(check_address("Addresses", a) for a in addresses if a.strip())
        return cls(enabled, subject, body, start, end, int(raw_days), own)

    def active_on(self, today: date) -> bool:
        """Whether the reply is sent on ``today``."""
        return (
            self.enabled
            and (self.start is None or self.start <= today)
            and (self.end is None or today <= self.end)
        )

    @property
    def requires(self) -> set[str]:
        if not self.enabled:
            return set()
        return {"vacation"} | ({"date", "relational"} if self.start or self.end else set())

    def sieve(self) -> str:
        """The script lines for this reply ("" when it is off)."""
        if not self.enabled:
            return ""
        command = f"vacation :days {self.days}"
        if self.subject:
            command += f" :subject {quote(self.subject)}"
        if self.addresses:
            command += f" :addresses {string_list(self.addresses)}"
        command += " " + text_block(self.body) + ";" + NEWLINE
        tests = []
        if self.start:
            tests.append(f'currentdate :value "ge" "date" {quote(self.start.isoformat())}')
        if self.end:
            tests.append(f'currentdate :value "le" "date" {quote(self.end.isoformat())}')
        if not tests:
            return command
        test = tests[0] if len(tests) == 1 else f"allof ({', '.join(tests)})"
        return f"if {test} {{{NEWLINE}    {command}}}{NEWLINE}"

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "subject": self.subject,
            "body": self.body,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "days": self.days,
            "addresses": list(self.addresses),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Vacation:
        return cls(
            enabled=bool(data["enabled"]),
            subject=str(data["subject"]),
            body=str(data["body"]),
            start=date.fromisoformat(data["start"]) if data["start"] else None,
            end=date.fromisoformat(data["end"]) if data["end"] else None,
            days=int(data["days"]),
            addresses=tuple(str(a) for a in data["addresses"]),
        )


@dataclass(frozen=True)
class Forwarding:
    """All mail redirected to ``address``; with ``keep`` a copy stays here too."""

    address: str = ""
    keep: bool = True

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Forwarding:
        """Read ``forward_to`` (empty: off) and ``keep``."""
        address = form.get("forward_to", "").strip()
        keep = form.get("keep", "") in ("on", "1", "true", "yes")
        return cls(check_address("Forward to", address) if address else "", keep)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    @property
    def requires(self) -> set[str]:
        return {"copy"} if self.enabled and self.keep else set()

    def sieve(self) -> str:
        if not self.enabled:
            return ""
        if self.keep:
            return f"redirect :copy {quote(self.address)};{NEWLINE}"
        return f"redirect {quote(self.address)};{NEWLINE}stop;{NEWLINE}"

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "keep": self.keep}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Forwarding:
        return cls(str(data["address"]), bool(data["keep"]))


def _date(field: str, value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        names = {"start": "First day", "end": "Last day"}
        raise RuleError(field, f"{names[field]}: write a date such as 2026-07-01.") from None
