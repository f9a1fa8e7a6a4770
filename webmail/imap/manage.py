"""Folder management: create, rename, delete, subscribe, empty; special folders made on first use.

New folders go into the personal namespace (RFC 2342): on a server that keeps every folder below
``INBOX.``, a top-level "Projects" is ``INBOX.Projects``. Special folders are never renamed or
deleted here, nor the folders they lie in: other mail programs find them by their names.
"""

from __future__ import annotations

from imapclient import IMAPClient

from webmail.imap.errors import FolderMissingError, IMAPError, map_imap_errors
from webmail.imap.folders import list_folders, namespaces
from webmail.imap.organize import expunge_messages
from webmail.imap.pool import IMAPConnection
from webmail.imap.raw import create_special_use
from webmail.imap.types import SPECIAL_NAMES, Folder, Namespaces, SpecialChoices, find_special


class FolderExistsError(IMAPError):
    """Raised when a create or rename would land on a folder that exists."""

    status_code = 409


class FolderRefusedError(IMAPError):
    """Raised when a folder change is one the app does not make: a special-use folder renamed or
    deleted, a name that is empty or holds the delimiter, a parent that does not exist."""

    status_code = 409


def special_within(folder: Folder, folders: list[Folder]) -> Folder | None:
    """The special folder that keeps ``folder`` from being renamed or deleted: itself, or one
    inside it (which would go along); None if there is none."""
    if folder.special_use is not None:
        return folder
    return next((f for f in folders if f.special_use is not None and _below(folder, f.name)), None)


def _keep_special(folder: Folder, folders: list[Folder], doing: str, why: str) -> None:
    special = special_within(folder, folders)
    if special is folder:
        raise FolderRefusedError(f"{folder.label} is a special folder{why}")
    if special is not None:
        raise FolderRefusedError(
            f"{folder.label} holds {special.label}, a special folder, and cannot be {doing}."
        )


def _find(folders: list[Folder], name: str) -> Folder | None:
    return next((f for f in folders if f.name == name), None)


def full_name(folders: list[Folder], spaces: Namespaces, parent: str, name: str) -> str:
    """The folder name for ``name`` under ``parent`` (empty: the top of the personal namespace), checked."""
    name = name.strip()
    delimiter = spaces.personal.delimiter or "/"
    if not name:
        raise FolderRefusedError("Give the folder a name.")
    if delimiter in name or any(c in name for c in "\r\n\0*%"):
        raise FolderRefusedError(f"A folder name cannot contain “{delimiter}”, “*”, “%” or line breaks.")
    if not parent:
        return spaces.folder_name(name)
    above = _find(folders, parent)
    if above is None:
        raise FolderRefusedError(f"There is no folder called “{spaces.path(parent)}”.")
    return f"{parent}{above.delimiter or delimiter}{name}"


def create_folder(conn: IMAPConnection, parent: str, name: str) -> str:
    """Create and subscribe ``name`` under ``parent`` (empty: the top of the personal namespace)."""
    client = conn.client
    folders, spaces = list_folders(client), namespaces(client)
    target = full_name(folders, spaces, parent, name)
    if _find(folders, target) is not None or (target.upper() == "INBOX"):
        raise FolderExistsError(f"A folder called “{spaces.path(target)}” exists already.")
    with map_imap_errors():
        client.create_folder(target)
        client.subscribe_folder(target)
    return target


def rename_folder(
    conn: IMAPConnection, folder: str, parent: str, name: str, chosen: SpecialChoices | None = None
) -> str:
    """Rename and/or move under another parent; subfolders go along (RFC 3501 RENAME)."""
    client = conn.client
    folders = list_folders(client, chosen=chosen)
    spaces = namespaces(client)
    current = _find(folders, folder)
    if current is None:
        raise FolderRefusedError(f"There is no folder called “{spaces.path(folder)}”.")
    _keep_special(current, folders, "renamed", "; other mail programs rely on its name.")
    target = full_name(folders, spaces, parent, name)
    if target == folder:
        return folder
    if _below(current, target):
        raise FolderRefusedError("A folder cannot be moved into itself.")
    if _find(folders, target) is not None or target.upper() == "INBOX":
        raise FolderExistsError(
            f"A folder called “{spaces.path(target)}” exists already; nothing was renamed."
        )
    _leave(conn, folder)
    with map_imap_errors():
        client.rename_folder(folder, target)
        client.subscribe_folder(target)
        if current.subscribed:
            try:
                client.unsubscribe_folder(folder)
            except Exception:  # noqa: S110 - Dovecot moves subscriptions itself
                pass
    return target


def delete_folder(conn: IMAPConnection, folder: str, chosen: SpecialChoices | None = None) -> None:
    client = conn.client
    folders = list_folders(client, chosen=chosen)
    current = _find(folders, folder)
    if current is None:
        raise FolderRefusedError(f"There is no folder called “{namespaces(client).path(folder)}”.")
    _keep_special(current, folders, "deleted", " and cannot be deleted.")
    children = [f for f in folders if _below(current, f.name)]
    _leave(conn, folder)
    with map_imap_errors():
        for child in sorted(children, key=lambda f: f.depth, reverse=True):
            client.unsubscribe_folder(child.name)
            client.delete_folder(child.name)
        client.unsubscribe_folder(folder)
        client.delete_folder(folder)


def set_subscribed(client: IMAPClient, folder: str, subscribed: bool) -> None:
    with map_imap_errors():
        if subscribed:
            client.subscribe_folder(folder)
        else:
            client.unsubscribe_folder(folder)


def empty_folder(conn: IMAPConnection, folder: str) -> int:
    """Delete every message in the folder for good (UID EXPUNGE of exactly those)."""
    conn.sync(folder)
    with map_imap_errors():
        uids = conn.client.search(["ALL"])
    if not uids:
        return 0
    return expunge_messages(conn, folder, list(uids))


def special_folder(conn: IMAPConnection, use: str, chosen: SpecialChoices | None = None) -> Folder:
    """The account's folder for ``use`` (``"\\Trash"``, ...), created and subscribed at the top of
    the personal namespace if it has none: with its attribute where the server has
    CREATE-SPECIAL-USE (RFC 6154 3), else by the name other mail programs look for."""
    client = conn.client
    found = find_special(list_folders(client, chosen=chosen), use)
    if found is not None:
        return found
    name = namespaces(client).folder_name(SPECIAL_NAMES[use])
    with map_imap_errors():
        if b"CREATE-SPECIAL-USE" in client.capabilities():
            create_special_use(client, name, use)
        else:
            client.create_folder(name)
        client.subscribe_folder(name)
    found = find_special(list_folders(client, chosen=chosen), use)
    if found is None:
        raise FolderMissingError(f"This mailbox has no {SPECIAL_NAMES[use]} folder.")
    return found


def _below(folder: Folder, name: str) -> bool:
    """True if ``name`` is a folder somewhere inside ``folder``."""
    return bool(folder.delimiter) and name.startswith(folder.name + folder.delimiter)


def _leave(conn: IMAPConnection, folder: str) -> None:
    """Leave a folder about to be renamed or deleted: UNSELECT (RFC 3691), or else EXAMINE of
    INBOX, which deselects without CLOSE's expunge of messages marked deleted."""
    if conn.selected is not None and conn.selected.name == folder:
        with map_imap_errors():
            if b"UNSELECT" in conn.client.capabilities():
                conn.client.unselect_folder()
            else:
                conn.client.select_folder("INBOX", readonly=True)
        conn.selected = None
