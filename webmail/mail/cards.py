"""Address book exchange: vCard (RFC 6350, and the 3.0 most programs export) and CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\Z")  # \Z: "$" would let a final newline in


@dataclass
class Card:
    name: str = ""
    emails: list[str] = field(default_factory=list)
    notes: str = ""
    groups: list[str] = field(default_factory=list)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _escape(value: str) -> str:
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return re.sub(r"\r\n|\r|\n", r"\\n", value)  # a bare CR would end the line for most readers


def _split(value: str, separator: str) -> list[str]:
    """Split on a separator that is not backslash-escaped."""
    return [_unescape(part) for part in re.split(rf"(?<!\\){re.escape(separator)}", value)]


def parse_vcards(text: str) -> list[Card]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]  # folded line (RFC 6350 3.2)
        else:
            lines.append(raw)
    cards: list[Card] = []
    card: Card | None = None
    structured = ""
    for line in lines:
        if ":" not in line:
            continue
        head, value = line.split(":", 1)
        prop = head.split(";", 1)[0].split(".")[-1].upper()
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            card, structured = Card(), ""
        elif prop == "END" and card is not None:
            if not card.name and structured:
                card.name = structured
            if card.name or card.emails:
                cards.append(card)
            card = None
        elif card is None:
            continue
        elif prop == "FN":
            card.name = _unescape(value).strip()
        elif prop == "N":
            parts = _split(value, ";") + ["", ""]
            structured = " ".join(p for p in (parts[1], parts[0]) if p).strip()
        elif prop == "EMAIL":
            address = _unescape(value).strip().removeprefix("mailto:")
            if EMAIL.match(address) and address not in card.emails:
                card.emails.append(address)
        elif prop == "NOTE":
            card.notes = _unescape(value)
        elif prop == "CATEGORIES":
            card.groups = [g.strip() for g in _split(value, ",") if g.strip()]
    return cards


def dump_vcards(cards: list[Card]) -> str:
    out: list[str] = []
    for card in cards:
        out += ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_escape(card.name or (card.emails or [''])[0])}"]
        out.append(f"N:{_escape(card.name)};;;;")
        out += [f"EMAIL;TYPE=INTERNET:{email}" for email in card.emails]
        if card.notes:
            out.append(f"NOTE:{_escape(card.notes)}")
        if card.groups:
            out.append("CATEGORIES:" + ",".join(_escape(g) for g in card.groups))
        out.append("END:VCARD")
    return "\r\n".join(out) + "\r\n"


def parse_csv(text: str) -> list[Card]:
    """CSV with a header row, as Outlook, Thunderbird, Google or this app export it."""
    cards: list[Card] = []
    for values in _rows(text):
        name = (
            values.get("name")
            or values.get("display name")
            or " ".join(part for part in (values.get("first name", ""), values.get("last name", "")) if part)
        )
        emails: list[str] = []
        for key, value in values.items():
            if "mail" in key:
                for address in re.split(r"[;,\s]+|:::", value):
                    if EMAIL.match(address) and address not in emails:
                        emails.append(address)
        groups_text = values.get("groups") or values.get("categories") or values.get("group membership") or ""
        groups = [
            g.strip()
            for g in re.split(r"[;,]|:::", groups_text)
            if g.strip() and not g.strip().startswith("*")
        ]
        if name or emails:
            cards.append(Card(name, emails, values.get("notes", ""), groups))
    return cards


# A cell starting with one of these is a formula to spreadsheets (CSV injection, e.g. a display
# name "=HYPERLINK(...)" from a collected address); a leading apostrophe makes it text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA) else value


def _uncell(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA) else value


def _rows(text: str) -> Iterator[dict[str, str]]:
    """Each row as lowercase column name -> text. Cells beyond the header are ignored; reading
    stops at a field past csv's size limit."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))  # "" lets csv see bare CRs
    try:
        for row in reader:
            yield {
                key.strip().lower(): _uncell((value or "").strip()).strip()
                for key, value in row.items()
                if key is not None  # the list of extra cells
            }
    except csv.Error:
        return


def dump_csv(cards: list[Card]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Name", "Email", "Notes", "Groups"])
    for card in cards:
        row = [card.name, "; ".join(card.emails), card.notes, "; ".join(card.groups)]
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()
