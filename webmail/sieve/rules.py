"""The rules model: filters, the vacation reply and forwarding, written as one Sieve script.

A script made here starts with a comment naming it and a one-line JSON copy of the model
(``# webmail-filters: {...}``; ``json.dumps`` escapes every control character, so the copy
cannot leave its comment). Reading a script back takes that copy and writes the script again:
only when the result is the same text is the script ours to edit. A script written by another
program, or edited by hand, never matches, and is shown as it is instead of being overwritten.

Rules run in order after the vacation reply and forwarding. In each rule the flag actions come
first, so a message filed by the same rule carries its flags (RFC 5232 section 3: ``fileinto``
takes the flags set so far).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from webmail.mail.query import SearchText
from webmail.sieve.errors import RuleError
from webmail.sieve.syntax import NEWLINE, one_line, quote, size, size_bytes, string_list, text_block
from webmail.sieve.vacation import Forwarding, Vacation, check_address

MARKER = "# webmail-filters: "
HEADER_COMMENT = (
    "# Filters made by webmail (Settings, Filters). Edited elsewhere, they are shown read-only there."
)
TEXT_OPS = ("contains", "is", "matches", "regex")
SIZE_OPS = ("over", "under")
FIELD_NAMES = {
    "from": "From",
    "to": "To or Cc",
    "subject": "Subject",
    "size": "Size",
    "attachment": "Attachment",
}
ACTIONS = ("fileinto", "copyinto", "flag", "seen", "redirect", "discard", "reject", "stop")
TARGET_ACTIONS = {
    "fileinto": "folder",
    "copyinto": "folder",
    "flag": "flag",
    "redirect": "address",
    "reject": "text",
}
FLAG = re.compile(r"^\\?[A-Za-z0-9$_.\-]{1,64}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,75}$")
# Pigeonhole's default sieve_max_redirects; RFC 5804 servers with another limit announce MAXREDIRECTS.
DEFAULT_MAX_REDIRECTS = 4
MAX_RULES = 200
Match = Literal["all", "any"]


@dataclass(frozen=True)
class Condition:
    """One test: ``field`` (from, to, subject, header:NAME, size, attachment), ``op``, ``value``."""

    field: str
    op: str
    value: str

    @classmethod
    def parse(cls, field: str, op: str, value: str, extensions: frozenset[str]) -> Condition:
        """A checked condition, or RuleError naming what is wrong."""
        field, op = field.strip(), op.strip().lower()
        if field.lower() in FIELD_NAMES:
            field = field.lower()
        if field == "attachment":
            return cls("attachment", "is", "yes")
        if field == "size":
            if op not in SIZE_OPS:
                raise RuleError("op", "Size: choose over or under.")
            return cls(field, op, size("Size", value))
        if field.lower().startswith("header:"):
            name = field[len("header:") :].strip()
            if not HEADER_NAME.match(name):
                raise RuleError("field", "Header: write a header name such as List-Id or X-Spam-Flag.")
            field = f"header:{name}"
        elif field not in FIELD_NAMES:
            raise RuleError("field", f"Unknown condition field {field!r}.")
        if op not in TEXT_OPS:
            raise RuleError("op", f"{label(field)}: choose contains, is, matches or regex.")
        if op == "regex" and "regex" not in extensions:
            raise RuleError("op", "This mail server cannot match regular expressions.")
        return cls(field, op, one_line(label(field), value))

    @property
    def requires(self) -> set[str]:
        return {"regex"} if self.op == "regex" else {"mime"} if self.field == "attachment" else set()

    def test(self) -> str:
        """The Sieve test."""
        if self.field == "attachment":
            return 'header :mime :anychild :contains "Content-Disposition" "attachment"'
        if self.field == "size":
            return f"size :{self.op} {self.value}"
        key = quote(self.value)
        if self.field in ("from", "to"):
            headers = string_list(["from"] if self.field == "from" else ["to", "cc"])
            if self.op == "contains":  # also the display name: "Anna" finds "Anna <a@example.org>"
                return f"header :contains {headers} {key}"
            return f"address :all :{self.op} {headers} {key}"
        return f"header :{self.op} {quote(self.header)} {key}"

    @property
    def header(self) -> str:
        return self.field.removeprefix("header:")

    def search_key(self) -> tuple[list[Any], bool] | None:
        """An IMAP SEARCH key (RFC 3501 6.4.4) finding this condition's messages and whether it
        finds exactly them (SEARCH compares substrings); None when SEARCH cannot narrow it."""
        if self.field == "size":
            return ["LARGER" if self.op == "over" else "SMALLER", size_bytes(self.value)], True
        if self.field == "attachment":
            return ["HEADER", SearchText(b"Content-Type"), SearchText(b"multipart/mixed")], False
        if self.op == "regex":
            return None
        text = self.value if self.op != "matches" else max(re.split(r"[*?]", self.value), key=len)
        exact = self.op == "contains"
        if not text:
            return None
        value = SearchText(text.encode())
        if self.field == "from":
            return ["FROM", value], exact
        if self.field == "to":
            return ["OR", "TO", value, "CC", value], exact
        if self.field == "subject":
            return ["SUBJECT", value], exact
        return ["HEADER", SearchText(self.header.encode()), value], exact

    def describe(self) -> str:
        if self.field == "attachment":
            return "has an attachment"
        return f"{label(self.field)} {self.op} {self.value}"


@dataclass(frozen=True)
class Action:
    """One action: ``kind`` and its ``target`` (folder, flag, address or text)."""

    kind: str
    target: str = ""

    @classmethod
    def parse(cls, kind: str, target: str) -> Action:
        kind = kind.strip().lower()
        if kind not in ACTIONS:
            raise RuleError("action", f"Unknown action {kind!r}.")
        what = TARGET_ACTIONS.get(kind)
        if what is None:
            return cls(kind)
        if kind == "reject":
            return cls(kind, target.strip() or "This message was refused.")
        target = target.strip()
        if not target:
            raise RuleError("target", f"{kind}: name the {what}.")
        if kind == "redirect":
            return cls(kind, check_address("Forward to", target))
        if kind == "flag" and not FLAG.match(target):
            raise RuleError("target", "Flag: a tag name without spaces, such as $label1 or \\Flagged.")
        return cls(kind, one_line("Folder", target))

    @property
    def requires(self) -> set[str]:
        return {
            "fileinto": {"fileinto"},
            "copyinto": {"fileinto", "copy"},
            "flag": {"imap4flags"},
            "seen": {"imap4flags"},
            "reject": {"reject"},
        }.get(self.kind, set())

    @property
    def sets_flag(self) -> bool:
        return self.kind in ("flag", "seen")

    def sieve(self) -> str:
        if self.kind == "fileinto":
            return f"fileinto {quote(self.target)};"
        if self.kind == "copyinto":
            return f"fileinto :copy {quote(self.target)};"
        if self.kind == "flag":
            return f"addflag {quote(self.target)};"
        if self.kind == "seen":
            return 'addflag "\\\\Seen";'
        if self.kind == "redirect":
            return f"redirect {quote(self.target)};"
        if self.kind == "reject":
            reason = self.target
            return (
                "reject " + (text_block(reason) if "\n" in reason or "\r" in reason else quote(reason)) + ";"
            )
        return f"{self.kind};"  # discard, stop

    def describe(self) -> str:
        names = {
            "fileinto": "move to",
            "copyinto": "copy to",
            "flag": "add tag",
            "seen": "mark as read",
            "redirect": "forward to",
            "discard": "delete for good",
            "reject": "refuse with",
            "stop": "stop here",
        }
        return f"{names[self.kind]} {self.target}".strip()


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match = "all"
    conditions: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = ()
    enabled: bool = True

    @classmethod
    def from_form(
        cls,
        name: str,
        match: str,
        conditions: Iterable[tuple[str, str, str]],
        actions: Iterable[tuple[str, str]],
        extensions: frozenset[str],
    ) -> Rule:
        """A rule from the form's repeated ``field``/``op``/``value`` and ``action``/``target``;
        condition rows without a value and action rows without a kind are blank rows, skipped."""
        name = one_line("Name", name.strip())[:200]
        if match not in ("all", "any"):
            raise RuleError("match", "Match: choose all or any.")
        parsed_conditions = tuple(
            Condition.parse(f, o, v, extensions)
            for f, o, v in conditions
            if f.strip() and (v.strip() or f.strip().lower() == "attachment")
        )
        parsed_actions = tuple(Action.parse(k, t) for k, t in actions if k.strip())
        if not parsed_actions:
            raise RuleError("action", "Choose at least one action.")
        missing = set().union(*(c.requires for c in parsed_conditions), *(a.requires for a in parsed_actions))
        missing -= extensions
        if missing:
            raise RuleError(
                "action", f"This mail server cannot do that (no Sieve {', '.join(sorted(missing))})."
            )
        summary = parsed_conditions[0].describe() if parsed_conditions else "every message"
        return cls(name or summary, "any" if match == "any" else "all", parsed_conditions, parsed_actions)

    @property
    def requires(self) -> set[str]:
        return set().union(*(c.requires for c in self.conditions), *(a.requires for a in self.actions))

    @property
    def drastic(self) -> bool:
        """Whether the rule throws mail away (discard or reject): the form asks first."""
        return any(a.kind in ("discard", "reject") for a in self.actions)

    @property
    def redirects(self) -> int:
        return sum(1 for a in self.actions if a.kind == "redirect")

    def test(self) -> str:
        tests = [c.test() for c in self.conditions]
        if not tests:
            test = "true"
        elif len(tests) == 1:
            test = tests[0]
        else:
            test = f"{'allof' if self.match == 'all' else 'anyof'} ({', '.join(tests)})"
        return test if self.enabled else f"allof (false, {test})"  # kept, never true

    def sieve(self) -> str:
        ordered = [a for a in self.actions if a.sets_flag] + [a for a in self.actions if not a.sets_flag]
        body = "".join(f"    {action.sieve()}{NEWLINE}" for action in ordered)
        return f"# {self.name}{NEWLINE}if {self.test()} {{{NEWLINE}{body}}}{NEWLINE}"

    def search_criteria(self) -> tuple[list[Any], bool] | None:
        """IMAP SEARCH criteria for this rule's messages and whether they are exact; None when
        SEARCH cannot narrow them (regular expressions, or "any" with such a condition)."""
        keys = [c.search_key() for c in self.conditions]
        if not keys:
            return ["ALL"], True
        if self.match == "all":
            usable = [k for k in keys if k is not None]
            if not usable:
                return None
            criteria = [item for key, _ in usable for item in key]
            return criteria, len(usable) == len(keys) and all(exact for _, exact in usable)
        if any(k is None for k in keys):
            return None
        present = [k for k in keys if k is not None]
        criteria = list(present[-1][0])
        for key, _ in reversed(present[:-1]):
            criteria = ["OR", *key, *criteria]
        return criteria, all(exact for _, exact in present)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "match": self.match,
            "conditions": [[c.field, c.op, c.value] for c in self.conditions],
            "actions": [[a.kind, a.target] for a in self.actions],
            "enabled": self.enabled,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        return cls(
            name=str(data["name"]),
            match="any" if data["match"] == "any" else "all",
            conditions=tuple(Condition(str(f), str(o), str(v)) for f, o, v in data["conditions"]),
            actions=tuple(Action(str(k), str(t)) for k, t in data["actions"]),
            enabled=bool(data["enabled"]),
        )


@dataclass(frozen=True)
class FilterSet:
    """Everything the Filters and Vacation pages edit: one script."""

    rules: tuple[Rule, ...] = ()
    vacation: Vacation = field(default_factory=Vacation)
    forwarding: Forwarding = field(default_factory=Forwarding)

    def check(self, max_redirects: int | None) -> None:
        """RuleError when the server would refuse to run it: more redirects than it allows."""
        limit = DEFAULT_MAX_REDIRECTS if max_redirects is None else max_redirects
        count = sum(rule.redirects for rule in self.rules if rule.enabled) + int(self.forwarding.enabled)
        if count > limit:
            raise RuleError(
                "action",
                f"The mail server forwards a message to at most {limit} addresses; these filters ask for {count}.",
            )
        if len(self.rules) > MAX_RULES:
            raise RuleError("name", f"At most {MAX_RULES} filters.")

    def render(self) -> str:
        """The Sieve script (CRLF line ends, RFC 5228 section 2.2)."""
        model = {
            "v": 1,
            "rules": [rule.to_json() for rule in self.rules],
            "vacation": self.vacation.to_json(),
            "forwarding": self.forwarding.to_json(),
        }
        requires = set().union(
            *(rule.requires for rule in self.rules), self.vacation.requires, self.forwarding.requires
        )
        lines = [HEADER_COMMENT + NEWLINE, MARKER + json.dumps(model, ensure_ascii=True) + NEWLINE]
        if requires:
            lines.append(f"require {string_list(sorted(requires))};{NEWLINE}")
        lines += [self.vacation.sieve(), self.forwarding.sieve()]
        lines += [rule.sieve() for rule in self.rules]
        return "".join(lines)

    @classmethod
    def parse(cls, script: str) -> FilterSet | None:
        """The model of a script made here and unchanged since; None for any other script."""
        for line in script.splitlines()[:3]:
            if line.startswith(MARKER):
                try:
                    data = json.loads(line.removeprefix(MARKER))
                    filters = cls(
                        rules=tuple(Rule.from_json(rule) for rule in data["rules"]),
                        vacation=Vacation.from_json(data["vacation"]),
                        forwarding=Forwarding.from_json(data["forwarding"]),
                    )
                except (ValueError, KeyError, TypeError):
                    return None
                return filters if _same_text(filters.render(), script) else None
        return None

    def with_rules(self, rules: Sequence[Rule]) -> FilterSet:
        return replace(self, rules=tuple(rules))


def label(field: str) -> str:
    if field.startswith("header:"):
        return field.removeprefix("header:")
    return FIELD_NAMES.get(field, field)


def _same_text(ours: str, theirs: str) -> bool:
    return ours.replace("\r\n", "\n") == theirs.replace("\r\n", "\n")
