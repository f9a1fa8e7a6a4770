"""Mailbox actions: archive, delete, junk, not junk, move, copy and undo, each rule decided once.

The reader's buttons (one message) and the list's bulk form (a selection) both call
``MailboxActions``; the routes only turn the returned ``ActionOutcome`` into a response. Moves
go through ``MailStore.move`` (MOVE, RFC 6851, or COPY + UID EXPUNGE) and report the messages'
new UIDs per target folder (COPYUID, RFC 4315), which is what Undo needs. A missing Trash,
Archive or Junk folder is created on first use (``MailStore.special_folder``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from webmail.imap.errors import FolderMissingError, QuotaExceededError
from webmail.imap.organize import MoveResult
from webmail.imap.store import MailStore
from webmail.imap.types import Folder
from webmail.imap.uidset import UIDSet
from webmail.limits import DEFAULT_LIMITS

ArchiveLayout = Literal["flat", "year", "month"]  # the choices of Preferences.archive_layout
Action = Literal["archive", "delete", "junk", "not-junk", "move", "copy", "undo"]

# Deleting in these folders deletes for good; elsewhere it moves to Trash.
BINS = ("\\Trash", "\\Junk")


@dataclass(frozen=True)
class ActionOutcome:
    """What one action did with ``count`` messages of ``source``.

    Exactly one of: moved (``moves``, one per target folder, with the new UIDs), copied
    (``copied``), deleted for good (``deleted_for_good``), nothing because it was refused
    (``refused`` says why, in words for the user), or nothing yet because deleting for good
    in ``confirm_in`` (a Trash or Junk folder) needs the user's yes.
    """

    action: Action
    source: str
    count: int
    target: Folder | None = None  # where they went: the folder chosen, or Trash, Junk, Archive, Inbox
    moves: tuple[MoveResult, ...] = ()
    copied: int = 0
    deleted_for_good: bool = False
    refused: str | None = None
    confirm_in: Folder | None = None

    @property
    def undoable(self) -> tuple[MoveResult, ...]:
        """The moves Undo can reverse: those whose new UIDs the server reported (UIDPLUS)."""
        return tuple(move for move in self.moves if move.new_uids)


class MailboxActions:
    """One user's mailbox actions, over their ``MailStore``."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def archive(
        self, folder: str, uids: Sequence[int], layout: ArchiveLayout = "flat"
    ) -> ActionOutcome:
        """Move to the Archive folder, or to its per-year (``year``) or per-month (``month``)
        subfolders by each message's arrival date, created on demand.

        Refused inside Archive or any of its subfolders: those messages are archived already.
        """
        archive = await self.store.special_folder("\\Archive")
        if _within(folder, archive):
            return _already("archive", folder, uids, archive)
        dates = await self.store.arrival_dates(folder, uids) if layout != "flat" else {}
        moves = []
        for target, members in sorted(archive_targets(archive, layout, uids, dates).items()):
            moves.append(await self.store.move(folder, members, target, create=target != archive.name))
        return ActionOutcome("archive", folder, len(uids), archive, tuple(moves))

    async def delete(self, folder: str, uids: Sequence[int], *, confirmed: bool = False) -> ActionOutcome:
        """Move to Trash; inside Trash or Junk, delete for good (only these UIDs are expunged),
        which asks first: unless ``confirmed``, nothing is done and ``confirm_in`` is set."""
        folders = await self.store.list_folders()
        here = _named(folders, folder)
        if here is not None and here.special_use in BINS:
            if not confirmed:
                return ActionOutcome("delete", folder, len(uids), confirm_in=here)
            await self.store.expunge(folder, uids)
            return ActionOutcome("delete", folder, len(uids), deleted_for_good=True)
        trash = await self.store.special_folder("\\Trash", folders)
        return await self._move("delete", folder, uids, trash)

    async def junk(self, folder: str, uids: Sequence[int]) -> ActionOutcome:
        """Mark ``$Junk`` (so filters learn) and move to the Junk folder."""
        junk = await self.store.special_folder("\\Junk")
        if folder == junk.name:
            return _already("junk", folder, uids, junk)
        await self.store.add_keyword(folder, uids, "$Junk")
        return await self._move("junk", folder, uids, junk)

    async def not_junk(self, folder: str, uids: Sequence[int]) -> ActionOutcome:
        """Back to the Inbox, marked ``$NotJunk`` and no longer ``$Junk`` (Thunderbird's keywords)."""
        inbox = _selectable(await self.store.list_folders(), "INBOX")
        if folder == inbox.name:
            return _already("not-junk", folder, uids, inbox)
        await self.store.add_keyword(folder, uids, "$NotJunk")
        await self.store.set_flag(folder, uids, "$Junk", False)
        return await self._move("not-junk", folder, uids, inbox)

    async def move(self, folder: str, uids: Sequence[int], to: str) -> ActionOutcome:
        """Move to the folder called ``to``; FolderMissingError if there is no such folder."""
        target = _selectable(await self.store.list_folders(), to)
        if folder == target.name:
            return _already("move", folder, uids, target)
        return await self._move("move", folder, uids, target)

    async def copy(self, folder: str, uids: Sequence[int], to: str) -> ActionOutcome:
        """Copy to the folder called ``to``, the originals staying; FolderMissingError if there
        is no such folder."""
        target = _selectable(await self.store.list_folders(), to)
        try:
            copied = await self.store.copy(folder, uids, target.name)
        except QuotaExceededError as exc:
            return ActionOutcome("copy", folder, len(uids), target, refused=exc.user_message)
        return ActionOutcome("copy", folder, len(uids), target, copied=copied)

    async def undo(
        self,
        moved: Sequence[tuple[str, UIDSet | Sequence[int]]],
        to: str,
        limit: int = DEFAULT_LIMITS.max_uids_per_request,
    ) -> ActionOutcome:
        """Reverse a move: the messages of each ``(folder, uids)`` (where an action put them,
        with their new UIDs) go back to ``to``. Only messages that are there are named to the
        server, at most ``limit`` in all (ValueError beyond)."""
        groups = []
        for where, named in moved:
            uids = named if isinstance(named, UIDSet) else UIDSet.of(named)
            found = await self.store.existing(where, uids, limit) if uids else []
            limit -= len(found)
            if limit < 0:
                raise ValueError("too many messages")
            groups.append((where, found))
        moves = tuple([await self.store.move(where, group, to) for where, group in groups if group])
        count = sum(len(group) for _, group in groups)
        source = moved[0][0] if moved else to
        return ActionOutcome("undo", source, count, moves=moves)

    async def _move(self, action: Action, folder: str, uids: Sequence[int], target: Folder) -> ActionOutcome:
        try:
            moved = await self.store.move(folder, uids, target.name)
        except QuotaExceededError as exc:  # the messages stay where they were
            return ActionOutcome(action, folder, len(uids), target, refused=exc.user_message)
        return ActionOutcome(action, folder, len(uids), target, (moved,))


def archive_targets(
    archive: Folder, layout: ArchiveLayout, uids: Sequence[int], dates: Mapping[int, datetime]
) -> dict[str, list[int]]:
    """Which archive folder each message goes to: Archive, Archive/2026 or Archive/2026/03 by its
    arrival date (a message without one goes to Archive itself)."""
    groups: dict[str, list[int]] = {}
    delimiter = archive.delimiter or "/"
    for uid in uids:
        when = dates.get(uid)
        path = archive.name
        if layout != "flat" and when is not None:
            path += f"{delimiter}{when.year}"
            if layout == "month":
                path += f"{delimiter}{when.month:02d}"
        groups.setdefault(path, []).append(uid)
    return groups


def _selectable(folders: list[Folder], name: str) -> Folder:
    found = _named(folders, name)
    if found is None or not found.selectable:
        raise FolderMissingError(f"There is no folder called “{name}”; nothing was moved.")
    return found


def _named(folders: list[Folder], name: str) -> Folder | None:
    return next((f for f in folders if f.name == name), None)


def _within(folder: str, parent: Folder) -> bool:
    return folder == parent.name or folder.startswith(parent.name + (parent.delimiter or "/"))


def _already(action: Action, folder: str, uids: Sequence[int], target: Folder) -> ActionOutcome:
    what = "This message is" if len(uids) == 1 else "These messages are"
    words = f"{what} in {target.label} already; nothing was moved."
    return ActionOutcome(action, folder, len(uids), target, refused=words)
