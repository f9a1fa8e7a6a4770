"""The filter builder's form: its repeated fields read into a Rule, and drafts to show again."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from webmail.sieve.rules import Rule
from webmail.web.forms import form_list

BLANK_CONDITIONS = 3
BLANK_ACTIONS = 3


def rule_from_form(form: FormData, extensions: frozenset[str]) -> Rule:
    """The rule in the fields ``name``, ``match``, repeated ``field``/``op``/``value`` and
    repeated ``action``/``target``."""
    fields, ops, values = form_list(form, "field"), form_list(form, "op"), form_list(form, "value")
    actions, targets = form_list(form, "action"), form_list(form, "target")
    ops += [""] * (len(fields) - len(ops))
    values += [""] * (len(fields) - len(values))
    targets += [""] * (len(actions) - len(targets))
    return Rule.from_form(
        str(form.get("name") or ""),
        str(form.get("match") or "all"),
        zip(fields, ops, values, strict=False),
        zip(actions, targets, strict=False),
        extensions,
    )


def form_version(form: FormData) -> str | None:
    value = form.get("version")
    return value if isinstance(value, str) and value else None


def blank_draft(folder: str, conditions: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    rows = list(conditions or [])
    rows += [("from", "contains", "")] * max(0, BLANK_CONDITIONS - len(rows))
    return {
        "name": "",
        "match": "all",
        "conditions": rows,
        "actions": [("fileinto", "")] + [("", "")] * (BLANK_ACTIONS - 1),
        "index": None,
        "folder": folder,
    }


def draft_from_form(form: FormData) -> dict[str, Any]:
    """The builder's fields as posted, to show them again with an error."""
    fields, ops, values = form_list(form, "field"), form_list(form, "op"), form_list(form, "value")
    actions, targets = form_list(form, "action"), form_list(form, "target")
    index = form.get("index")
    return {
        "name": form.get("name") or "",
        "match": form.get("match") or "all",
        "conditions": list(zip(fields, ops + [""] * len(fields), values + [""] * len(fields), strict=False)),
        "actions": list(zip(actions, targets + [""] * len(actions), strict=False)),
        "index": int(index) if isinstance(index, str) and index.isdigit() else None,
        "folder": form.get("folder") or "INBOX",
    }


def draft_from_rule(rule: Rule, index: int, folder: str) -> dict[str, Any]:
    draft = blank_draft(folder, [(c.field, c.op, c.value) for c in rule.conditions])
    draft.update(
        name=rule.name,
        match=rule.match,
        actions=[(a.kind, a.target) for a in rule.actions] + [("", "")],
        index=index,
    )
    return draft
