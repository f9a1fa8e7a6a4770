"""Plain typed values the rest of the app sees instead of imapclient's bytes dicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# RFC 6154 special-use attributes, in the order the folder pane shows them.
SPECIAL_USE_ORDER = ("\\Inbox", "\\Drafts", "\\Sent", "\\Archive", "\\Junk", "\\Trash")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    client_ip: str | None = None


@dataclass(frozen=True)
class Folder:
    """One mailbox from LIST, with its STATUS counts when known."""

    name: str
    delimiter: str
    flags: frozenset[str]
    subscribed: bool
    messages: int | None = None
    unseen: int | None = None
    uidvalidity: int | None = None
    highestmodseq: int | None = None
    size: int | None = None  # bytes, when asked for and the server has STATUS=SIZE (RFC 8438)

    @property
    def special_use(self) -> str | None:
        if self.name.upper() == "INBOX":
            return "\\Inbox"
        for flag in SPECIAL_USE_ORDER:
            if flag in self.flags:
                return flag
        return None

    @property
    def selectable(self) -> bool:
        return "\\Noselect" not in self.flags and "\\NonExistent" not in self.flags

    @property
    def depth(self) -> int:
        return self.name.count(self.delimiter) if self.delimiter else 0

    @property
    def label(self) -> str:
        if self.name.upper() == "INBOX":
            return "Inbox"
        return self.name.rsplit(self.delimiter, 1)[-1] if self.delimiter else self.name

    @property
    def sort_key(self) -> tuple[int, str]:
        use = self.special_use
        if use is not None and self.depth == 0:
            return (SPECIAL_USE_ORDER.index(use), "")
        return (len(SPECIAL_USE_ORDER), self.name.casefold())


def find_special(folders: list[Folder], use: str) -> Folder | None:
    """The account's folder for a special use (``"\\Sent"``, ``"\\Trash"``, ...), or None.

    The one place that decides which folder is the Sent, Drafts, Trash, Archive or Junk folder:
    a selectable top-level folder with that RFC 6154 attribute.
    """
    return next((f for f in folders if f.special_use == use and f.selectable and f.depth == 0), None)


def split_ref(value: str) -> tuple[str, int] | None:
    """A message as forms and links name it, ``"<folder>/<uid>"``, to (folder, uid); None if
    ``value`` is not one. Folder names may hold the delimiter: the UID is after the last ``/``."""
    folder, _, uid = value.rpartition("/")
    return (folder, int(uid)) if folder and uid.isascii() and uid.isdigit() else None


@dataclass(frozen=True)
class Address:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    @property
    def display(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class FolderState:
    """What SELECT told us about a folder."""

    name: str
    uidvalidity: int
    exists: int
    uidnext: int | None
    highestmodseq: int | None


@dataclass(frozen=True)
class MessageSummary:
    """One row of the message list: ENVELOPE, FLAGS, INTERNALDATE, size and structure hints."""

    uid: int
    subject: str
    from_: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    internaldate: datetime | None
    size: int
    flags: frozenset[str]
    has_attachment: bool
    message_id: str | None
    in_reply_to: str | None
    preview: str = ""  # the row's line of text (PREVIEW, RFC 8970, or the start of the text part)

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags

    @property
    def flagged(self) -> bool:
        return "\\Flagged" in self.flags

    @property
    def answered(self) -> bool:
        return "\\Answered" in self.flags

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(sorted(flag for flag in self.flags if not flag.startswith("\\")))

    @property
    def sort_date(self) -> datetime | None:
        return self.date or self.internaldate


@dataclass(frozen=True)
class ThreadRow:
    """A message in conversation view: its depth and the size of its thread."""

    summary: MessageSummary
    depth: int
    thread_size: int
    thread_root: int


@dataclass(frozen=True)
class MessagePage:
    folder: FolderState
    total: int
    page: int
    page_size: int
    sort: str
    reverse: bool
    messages: tuple[MessageSummary, ...]
    threads: tuple[ThreadRow, ...] | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))
