"""Plain typed values the rest of the app sees instead of imapclient's bytes dicts."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

# RFC 6154 special-use attributes, in the order the folder pane shows them.
SPECIAL_USE_ORDER = ("\\Inbox", "\\Drafts", "\\Sent", "\\Archive", "\\Junk", "\\Trash")
SPECIAL_USES = SPECIAL_USE_ORDER[1:]  # the ones a folder other than INBOX can have
SpecialUse = Literal["\\Drafts", "\\Sent", "\\Archive", "\\Junk", "\\Trash"]
SpecialChoices = Mapping[SpecialUse, str]  # special folders the user chose by hand: use to folder name

# Names mail programs give these folders on servers without SPECIAL-USE, first the one the app
# creates when the folder is missing, then other programs' and localised ones.
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "\\Drafts": ("Drafts", "Draft", "Entwürfe", "Brouillons", "Borradores", "Bozze", "Concepten"),
    "\\Sent": (
        "Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet", "Gesendete Elemente",
        "Gesendete Objekte", "Envoyés", "Éléments envoyés", "Enviados", "Inviati", "Verzonden",
    ),
    "\\Archive": ("Archive", "Archives", "Archiv", "Archivio", "Archivo", "Archief"),
    "\\Junk": (
        "Junk", "Spam", "Junk E-mail", "Junk Email", "Bulk Mail", "Junk-E-Mail", "Unerwünscht",
        "Indésirables", "Pourriel", "Correo no deseado", "Posta indesiderata", "Ongewenste e-mail",
    ),
    "\\Trash": (
        "Trash", "Deleted Items", "Deleted Messages", "Bin", "Papierkorb", "Gelöschte Elemente",
        "Gelöschte Objekte", "Corbeille", "Éléments supprimés", "Papelera", "Cestino", "Prullenbak",
    ),
}  # fmt: skip
SPECIAL_NAMES = {use: names[0] for use, names in COMMON_NAMES.items()}  # what the app calls and creates

NamespaceKind = Literal["personal", "other", "shared"]  # RFC 2342: the user's own, other users', shared
NAMESPACE_ORDER = ("personal", "shared", "other")  # in the folder pane


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    client_ip: str | None = None


@dataclass(frozen=True)
class Namespace:
    """One namespace from NAMESPACE (RFC 2342): its folders' names start with ``prefix``."""

    kind: NamespaceKind
    prefix: str
    delimiter: str

    def path(self, name: str) -> str:
        """``name`` without this namespace's prefix: what the user sees and types."""
        if self.prefix and name.startswith(self.prefix) and len(name) > len(self.prefix):
            return name[len(self.prefix) :]
        return name


PERSONAL_ROOT = Namespace("personal", "", "/")  # what a server without NAMESPACE is taken to have


@dataclass(frozen=True)
class Namespaces:
    """The account's namespaces: its personal one, where the app creates folders, and the rest."""

    personal: Namespace = PERSONAL_ROOT
    others: tuple[Namespace, ...] = ()

    def of(self, name: str) -> Namespace:
        """The namespace ``name`` lies in: the one with the longest matching prefix (INBOX is personal)."""
        if name.upper() == "INBOX":
            return self.personal
        found = [ns for ns in (self.personal, *self.others) if name.startswith(ns.prefix)]
        # The namespace's own name (LIST shows "Public" for "Public.") belongs to it too.
        found += [ns for ns in self.others if ns.prefix and name == ns.prefix.removesuffix(ns.delimiter)]
        return max(found, key=lambda ns: len(ns.prefix), default=self.personal)

    def path(self, name: str) -> str:
        """A folder name as shown: without its namespace's prefix (``INBOX.Sent`` is ``Sent``)."""
        return self.of(name).path(name)

    def folder_name(self, *path: str) -> str:
        """A personal folder's full name: ``("Archive", "2026")`` is ``INBOX.Archive.2026`` on a
        server that puts folders below INBOX with "." between levels."""
        return self.personal.prefix + self.personal.delimiter.join(path)


@dataclass(frozen=True)
class Folder:
    """One mailbox from LIST, with its STATUS counts when known.

    ``use`` is the special use the app gives it (``special_folders`` decides), ``namespace`` the
    namespace it lies in: names are shown without the namespace's prefix (``INBOX.Sent`` is
    "Sent" where every folder lies below INBOX).
    """

    name: str
    delimiter: str
    flags: frozenset[str]
    subscribed: bool
    messages: int | None = None
    unseen: int | None = None
    uidvalidity: int | None = None
    highestmodseq: int | None = None
    size: int | None = None  # bytes, when asked for and the server has STATUS=SIZE (RFC 8438)
    uidnext: int | None = None
    namespace: Namespace = PERSONAL_ROOT
    use: str | None = None

    @property
    def special_use(self) -> str | None:
        if self.name.upper() == "INBOX":
            return "\\Inbox"
        return self.use

    @property
    def selectable(self) -> bool:
        return not {"\\noselect", "\\nonexistent"} & {flag.lower() for flag in self.flags}

    @property
    def path(self) -> str:
        """The name without its namespace's prefix: what the user sees and types."""
        return self.namespace.path(self.name)

    @property
    def depth(self) -> int:
        return self.path.count(self.delimiter) if self.delimiter else 0

    @property
    def parent(self) -> str | None:
        """The full name of the folder this one lies in; None at the top of its namespace."""
        return self.name.rsplit(self.delimiter, 1)[0] if self.depth else None

    @property
    def label(self) -> str:
        if self.name.upper() == "INBOX":
            return "Inbox"
        return self.path.rsplit(self.delimiter, 1)[-1] if self.delimiter else self.path

    @property
    def sort_key(self) -> tuple[int, int, str]:
        use = self.special_use
        if use is not None and self.depth == 0 and self.namespace.kind == "personal":
            return (SPECIAL_USE_ORDER.index(use), 0, "")
        return (len(SPECIAL_USE_ORDER), NAMESPACE_ORDER.index(self.namespace.kind), self.name.casefold())


def special_folders(folders: Sequence[Folder], chosen: SpecialChoices | None = None) -> list[Folder]:
    """``folders`` with each one's special use decided: the one place that decides which folder is
    the Sent, Drafts, Trash, Archive or Junk folder (``find_special`` then looks it up).

    For each use, in this order, the first selectable folder (each folder gets one use at most):
    1. the folder the user ``chosen`` for it by hand (use to folder name), if it exists;
    2. one with the RFC 6154 attribute, compared without case (Cyrus answers ``\\sent``), at any
       depth, the personal namespace's and the shallowest first;
    3. one named as mail programs name it (``COMMON_NAMES``, without case) at the top of the
       personal namespace, for servers without SPECIAL-USE.
    """
    candidates = [f for f in folders if f.selectable and f.name.upper() != "INBOX"]
    decided: dict[str, str] = {}  # use -> folder name

    def take(use: str, found: Iterable[Folder | None]) -> None:
        free = (f for f in found if f is not None and f.name not in decided.values())
        folder = next(free, None)
        if folder is not None and use not in decided:
            decided[use] = folder.name

    for use_chosen, name in (chosen or {}).items():
        take(use_chosen, (f for f in candidates if f.name == name))
    for use in SPECIAL_USES:
        flagged = [f for f in candidates if use.lower() in {flag.lower() for flag in f.flags}]
        flagged.sort(key=lambda f: (f.namespace.kind != "personal", f.depth, f.name))
        take(use, flagged)
    top = {_fold(f.path): f for f in candidates if f.namespace.kind == "personal" and f.depth == 0}
    for use in SPECIAL_USES:
        take(use, (top.get(_fold(name)) for name in COMMON_NAMES[use]))
    uses = {name: use for use, name in decided.items()}
    return [replace(f, use=uses.get(f.name)) for f in folders]


def find_special(folders: Sequence[Folder], use: str) -> Folder | None:
    """The account's folder for a special use (``"\\Sent"``, ``"\\Trash"``, ...), or None, as
    ``special_folders`` decided when the folders were listed."""
    return next((f for f in folders if f.use == use), None)


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


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

    def with_flags(self, flags: Mapping[int, frozenset[str]]) -> MessagePage:
        """This page with the messages' flags replaced by ``flags`` (UID to flags) where given."""

        def current(summary: MessageSummary) -> MessageSummary:
            new = flags.get(summary.uid, summary.flags)
            return summary if new == summary.flags else replace(summary, flags=new)

        threads = None
        if self.threads is not None:
            threads = tuple(replace(row, summary=current(row.summary)) for row in self.threads)
        return replace(self, messages=tuple(current(m) for m in self.messages), threads=threads)
