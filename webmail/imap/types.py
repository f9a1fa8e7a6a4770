"""Plain typed values the rest of the app sees instead of imapclient's bytes dicts."""

from __future__ import annotations

from dataclasses import dataclass

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
