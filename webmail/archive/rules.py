"""Auto-archive rules: which messages a rule takes, its preview, its run in chunks, and Undo.

A rule takes the messages of one folder that arrived (INTERNALDATE, IMAP's SEARCH BEFORE)
more than N days ago, optionally only read ones, and by default not starred ones. Runs go in
chunks of ``CHUNK`` messages through the same MailboxActions the list uses (archive by year or
month, Trash), so folders are created and COPYUID kept the same way; the last moving run's
moves are kept for Undo. Deleting for good is asked for with a typed word when the rule is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from webmail.errors import FormError, WebmailError
from webmail.imap.actions import MailboxActions
from webmail.imap.store import MailStore

logger = logging.getLogger("webmail.archive")

Action = Literal["archive", "trash", "delete"]
Layout = Literal["flat", "year", "month"]
ACTIONS: dict[str, str] = {
    "archive": "move to the Archive",
    "trash": "move to Trash",
    "delete": "delete for good",
}
LAYOUTS: dict[str, str] = {
    "flat": "the Archive folder",
    "year": "a folder per year",
    "month": "a folder per month",
}
CONFIRM_WORD = "delete"
CHUNK = 500
MAX_DAYS = 36500


@dataclass(frozen=True)
class RuleSpec:
    """What a rule does, as the form says it."""

    folder: str
    older_than_days: int
    only_read: bool = False
    skip_starred: bool = True
    action: Action = "archive"
    layout: Layout = "flat"

    def criteria(self, today: date) -> list[Any]:
        """IMAP search keys: arrived before ``today`` less the rule's days (BEFORE compares the
        date of INTERNALDATE), and read / not flagged if asked."""
        keys: list[Any] = ["BEFORE", today - timedelta(days=self.older_than_days)]
        if self.only_read:
            keys.append("SEEN")
        if self.skip_starred:
            keys.append("UNFLAGGED")
        return keys

    def describe(self) -> str:
        which = "read messages" if self.only_read else "messages"
        starred = ", not starred," if self.skip_starred else ""
        where = f" ({LAYOUTS[self.layout]})" if self.action == "archive" else ""
        return (
            f"In {self.folder}, {which}{starred} older than {self.older_than_days} days: "
            f"{ACTIONS[self.action]}{where}."
        )


def parse_rule(form: dict[str, str], folders: Sequence[str]) -> RuleSpec:
    """The rule a form describes; FormError naming the field that is wrong."""
    folder = form.get("folder", "")
    if folder not in folders:
        raise FormError("folder", "Choose one of your folders.")
    try:
        days = int(form.get("older_than_days", ""))
    except ValueError:
        raise FormError("older_than_days", "Enter a number of days.") from None
    if not 1 <= days <= MAX_DAYS:
        raise FormError("older_than_days", f"Enter a number of days from 1 to {MAX_DAYS}.")
    action = form.get("action", "archive")
    if action not in ACTIONS:
        raise FormError("action", "Choose what happens to the messages.")
    layout = form.get("layout", "flat")
    if layout not in LAYOUTS:
        raise FormError("layout", "Choose how the Archive is laid out.")
    return RuleSpec(
        folder=folder,
        older_than_days=days,
        only_read=form.get("only_read") in ("on", "1"),
        skip_starred=form.get("skip_starred") in ("on", "1"),
        action=action,  # type: ignore[arg-type]
        layout=layout,  # type: ignore[arg-type]
    )


def check_confirmation(spec: RuleSpec, typed: str) -> None:
    """Deleting for good needs the word typed into the form."""
    if spec.action == "delete" and typed.strip().lower() != CONFIRM_WORD:
        raise FormError(
            "confirm",
            f"This rule deletes messages for good, without Trash or Undo: type “{CONFIRM_WORD}” to save it.",
        )


@dataclass(frozen=True)
class Preview:
    count: int
    size: int


async def preview(store: MailStore, spec: RuleSpec, today: date | None = None) -> Preview:
    """How many messages the rule would take now, and their size."""
    uids = await store.matching_uids(spec.folder, spec.criteria(today or datetime.now(UTC).date()))
    return Preview(len(uids), await store.total_size(spec.folder, uids))


@dataclass
class RunResult:
    """What a run did: how many messages, the moves (for Undo) and, if it stopped, why."""

    count: int = 0
    moves: list[tuple[str, list[int]]] = field(default_factory=list)
    stopped: str = ""

    def words(self, spec: RuleSpec) -> str:
        done = {"archive": "archived", "trash": "moved to Trash", "delete": "deleted for good"}[spec.action]
        text = f"{self.count} message{'' if self.count == 1 else 's'} {done}."
        return f"{text} Stopped: {self.stopped}" if self.stopped else text


async def run(store: MailStore, spec: RuleSpec, today: date | None = None) -> RunResult:
    """Apply the rule now, ``CHUNK`` messages at a time (the connection is free in between)."""
    actions = MailboxActions(store)
    uids = await store.matching_uids(spec.folder, spec.criteria(today or datetime.now(UTC).date()))
    result = RunResult()
    for start in range(0, len(uids), CHUNK):
        chunk = uids[start : start + CHUNK]
        try:
            if spec.action == "delete":
                result.count += await store.expunge(spec.folder, chunk)
                continue
            if spec.action == "archive":
                outcome = await actions.archive(spec.folder, chunk, spec.layout)
            else:
                outcome = await actions.delete(spec.folder, chunk, confirmed=False)
        except WebmailError as exc:
            result.stopped = exc.user_message
            break
        if outcome.refused is not None or outcome.confirm_in is not None:
            result.stopped = outcome.refused or "the folder is a bin: choose “delete for good” for it."
            break
        result.count += outcome.count
        result.moves += [(move.target, list(move.new_uids)) for move in outcome.undoable]
    logger.info(
        "archive rule ran: %d messages (%s)%s",
        result.count,
        spec.action,
        " stopped" if result.stopped else "",
    )
    return result


async def undo(store: MailStore, spec: RuleSpec, moves: Sequence[Sequence[Any]]) -> int:
    """Move what the last run moved back to the rule's folder; how many went back."""
    groups = [(str(target), [int(uid) for uid in uids]) for target, uids in moves]
    outcome = await MailboxActions(store).undo(groups, spec.folder)
    return outcome.count
