"""The search language typed in the search box, Gmail style, turned into IMAP SEARCH keys.

    invoice from:anna "quarterly report" -draft subject:(meeting) OR subject:call is:unread
    has:attachment larger:5M older_than:2w before:2026-01-31 in:Archive

Words without an operator search From, To, Cc, Subject and the body (``scope`` narrows that).
Terms are ANDed; ``OR`` joins the terms on either side; ``-`` negates one. Every value reaches
the server as a quoted string or literal built by imapclient, never as IMAP syntax: CR, LF and
NUL, which no quoted string may hold, are turned into spaces first (RFC 3501 section 4.3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from webmail.errors import WebmailError
from webmail.limits import DEFAULT_LIMITS, Limits

FIELDS = {"from": "FROM", "to": "TO", "cc": "CC", "subject": "SUBJECT", "body": "BODY"}
DEFAULT_SCOPE = ("from", "to", "cc", "subject", "body")
IS_VALUES = {"unread": ["UNSEEN"], "read": ["SEEN"], "flagged": ["FLAGGED"], "starred": ["FLAGGED"],
             "answered": ["ANSWERED"], "replied": ["ANSWERED"]}  # fmt: skip
UNITS = {"d": 1, "w": 7, "m": 30, "y": 365}
SIZES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MAX_SIZE = 2**63  # RFC 9051 number64
OPERATOR = re.compile(r"^([a-z_]+):(.*)$", re.S)
_UNSAFE = re.compile(r"[\r\n\x00]")

Criteria = list[Any]


class QueryError(WebmailError):
    """Raised when part of a search query is not understood; says which part."""

    status_code = 422


@dataclass(frozen=True)
class Term:
    criteria: Criteria
    words: tuple[str, ...] = ()  # what to highlight


@dataclass
class Query:
    """A parsed query: IMAP criteria, the folder it names (``in:``), the words to highlight."""

    text: str
    criteria: Criteria
    folder: str | None = None
    words: list[str] = field(default_factory=list)


def tokenize(text: str) -> list[str]:
    """Split on spaces, keeping quoted phrases (also after ``operator:`` and ``-``) together."""
    tokens: list[str] = []
    current = ""
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            current += char
        elif char.isspace() and not quoted:
            if current:
                tokens.append(current)
            current = ""
        else:
            current += char
    if quoted:
        raise QueryError("A quotation mark is not closed.")
    if current:
        tokens.append(current)
    return tokens


def _unquote(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return _UNSAFE.sub(" ", value).strip()


class SearchText(bytes):
    """A value to search for (UTF-8): always sent quoted or as a literal, never as an atom."""


def _value(value: str) -> SearchText:
    return SearchText(value.encode("utf-8"))


def _words_criteria(word: str, scope: Sequence[str]) -> Criteria:
    """``OR FROM w OR TO w SUBJECT w``: one search key in prefix form, no parentheses needed."""
    criteria: Criteria = [FIELDS[scope[-1]], _value(word)]
    for name in reversed(scope[:-1]):
        criteria = ["OR", FIELDS[name], _value(word), *criteria]
    return criteria


def _date(value: str, operator: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"“{operator}:{value}”: dates are written YYYY-MM-DD, e.g. {operator}:2026-01-31."
        ) from None


def _ago(value: str, operator: str, today: date) -> date:
    match = re.fullmatch(r"(\d+)([dwmy])", value.lower())
    if not match:
        raise QueryError(f"“{operator}:{value}”: use a number and d, w, m or y, e.g. {operator}:7d.")
    try:
        return today - timedelta(days=int(match.group(1)) * UNITS[match.group(2)])
    except OverflowError:  # before the year 1, or more days than timedelta holds
        raise QueryError(f"“{operator}:{value}” reaches back too far.") from None


def _size(value: str, operator: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?", value.lower())
    if not match:
        raise QueryError(f"“{operator}:{value}”: use a size such as 5M, 100K or 2000.")
    size = float(match.group(1)) * SIZES[match.group(2)]
    if not size < MAX_SIZE:  # also infinity, from hundreds of digits
        raise QueryError(f"“{operator}:{value}” is larger than any message can be.")
    return int(size)


def parse_term(token: str, scope: Sequence[str], today: date) -> Term | str:
    """One token to a Term, or the folder name of ``in:`` (returned as a plain string)."""
    plain = token.lstrip("-") or "-"
    negations = len(token) - len(plain)
    if negations:
        inner = _parse_plain(plain, scope, today)
        if isinstance(inner, str):
            raise QueryError("“-in:” is not supported: search a folder with in:folder.")
        return Term(["NOT", *inner.criteria]) if negations % 2 else Term(inner.criteria)
    return _parse_plain(token, scope, today)


def _parse_plain(token: str, scope: Sequence[str], today: date) -> Term | str:
    match = OPERATOR.match(token)
    if match is None or match.group(2).startswith("//") or not match.group(1).replace("_", "").isalpha():
        word = _unquote(token)
        if not word:
            raise QueryError('An empty phrase ("") cannot be searched for.')
        return Term(_words_criteria(word, scope), (word,))
    operator, raw = match.group(1), match.group(2)
    value = _unquote(raw)
    if not value:
        raise QueryError(f"“{operator}:” needs a value after the colon.")
    if operator in FIELDS:
        return Term([FIELDS[operator], _value(value)], (value,))
    if operator == "is":
        if value.lower() not in IS_VALUES:
            raise QueryError(f"“is:{value}” is not known; use is:unread, is:read, is:flagged or is:answered.")
        return Term(list(IS_VALUES[value.lower()]))
    if operator == "has":
        if value.lower() not in ("attachment", "attachments"):
            raise QueryError(f"“has:{value}” is not known; use has:attachment.")
        # IMAP cannot ask for attachments; a multipart/mixed top level is what carries them.
        return Term(["HEADER", SearchText(b"Content-Type"), SearchText(b"multipart/mixed")])
    # Dates are the messages' Date headers (SENT*), as the list shows them, not arrival times.
    if operator == "before":
        return Term(["SENTBEFORE", _date(value, operator)])
    if operator == "after":
        return Term(["SENTSINCE", _date(value, operator)])
    if operator == "older_than":
        return Term(["SENTBEFORE", _ago(value, operator, today)])
    if operator == "newer_than":
        return Term(["SENTSINCE", _ago(value, operator, today)])
    if operator == "larger":
        return Term(["LARGER", _size(value, operator)])
    if operator == "smaller":
        return Term(["SMALLER", _size(value, operator)])
    if operator == "in":
        return value
    raise QueryError(f"“{operator}:” is not a search operator.")


def parse_search(
    text: str,
    *,
    scope: Sequence[str] = DEFAULT_SCOPE,
    today: date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Query:
    """Parse the search box; raises QueryError naming the part it did not understand, or the
    limit (``max_search_length`` characters, ``max_search_terms`` terms) a query passes."""
    today = today or date.today()
    scope = [name for name in scope if name in FIELDS] or list(DEFAULT_SCOPE)
    if len(text) > limits.max_search_length:
        raise QueryError(f"A search may be at most {limits.max_search_length} characters long.")
    tokens = tokenize(text.strip())
    if not tokens:
        raise QueryError("Type something to search for.")
    if len(tokens) > limits.max_search_terms:
        raise QueryError(f"A search may have at most {limits.max_search_terms} terms.")
    terms: list[Term] = []
    folder: str | None = None
    pending_or = False
    for position, word in enumerate(tokens):
        if word == "OR":
            if not terms or pending_or or position == len(tokens) - 1:
                raise QueryError("“OR” needs a search term on each side.")
            pending_or = True
            continue
        parsed = parse_term(word, scope, today)
        if isinstance(parsed, str):
            if pending_or:
                raise QueryError("“OR” cannot join in: folders.")
            folder = parsed
            continue
        if pending_or:
            left = terms.pop()
            parsed = Term(["OR", *left.criteria, *parsed.criteria], left.words + parsed.words)
            pending_or = False
        terms.append(parsed)
    # Every term is exactly one search key, so keys simply follow each other (AND) and OR/NOT
    # take their operands in prefix form: no parentheses, which imapclient mishandles around
    # values it must send as literals (8-bit text).
    criteria: Criteria = [key for term in terms for key in term.criteria] if terms else ["ALL"]
    words = [word for term in terms for word in term.words]
    return Query(text, criteria, folder, words)
