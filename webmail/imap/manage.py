"""Folder management: create, rename, delete, subscribe, empty. Special-use folders are kept."""

from __future__ import annotations

from imapclient import IMAPClient

from webmail.imap.errors import IMAPError, map_imap_errors
from webmail.imap.folders import list_folders
from webmail.imap.organize import expunge_messages
from webmail.imap.pool import IMAPConnection
from webmail.imap.types import Folder


class FolderExistsError(IMAPError):
    """Raised when a create or rename would land on a folder that exists."""

    status_code = 409


class FolderRefusedError(IMAPError):
    """Raised when a folder change is one the app does not make: a special-use folder renamed or
    deleted, a name that is empty or holds the delimiter, a parent that does not exist."""

    status_code = 409


def _find(folders: list[Folder], name: str) -> Folder | None:
    return next((f for f in folders if f.name == name), None)


def _delimiter(folders: list[Folder]) -> str:
    return next((f.delimiter for f in folders if f.delimiter), "/")


def full_name(folders: list[Folder], parent: str, name: str) -> str:
    """The folder name for ``name`` under ``parent`` (empty: top level), checked."""
    name = name.strip()
    delimiter = _delimiter(folders)
    if not name:
        raise FolderRefusedError("Give the folder a name.")
    if delimiter in name or any(c in name for c in "\r\n\0*%"):
        raise FolderRefusedError(f"A folder name cannot contain “{delimiter}”, “*”, “%” or line breaks.")
    if parent and _find(folders, parent) is None:
        raise FolderRefusedError(f"There is no folder called “{parent}”.")
    return f"{parent}{delimiter}{name}" if parent else name


def create_folder(conn: IMAPConnection, parent: str, name: str) -> str:
    client = conn.client
    folders = list_folders(client)
    target = full_name(folders, parent, name)
    if _find(folders, target) is not None or (target.upper() == "INBOX"):
        raise FolderExistsError(f"A folder called “{target}” exists already.")
    with map_imap_errors():
        client.create_folder(target)
        client.subscribe_folder(target)
    return target


def rename_folder(conn: IMAPConnection, folder: str, parent: str, name: str) -> str:
    """Rename and/or move under another parent; subfolders go along (RFC 3501 RENAME)."""
    client = conn.client
    folders = list_folders(client)
    current = _find(folders, folder)
    if current is None:
        raise FolderRefusedError(f"There is no folder called “{folder}”.")
    if current.special_use is not None:
        raise FolderRefusedError(
            f"{current.label} is a special folder; other mail programs rely on its name."
        )
    target = full_name(folders, parent, name)
    if target == folder:
        return folder
    delimiter = _delimiter(folders)
    if target.startswith(folder + delimiter):
        raise FolderRefusedError("A folder cannot be moved into itself.")
    if _find(folders, target) is not None or target.upper() == "INBOX":
        raise FolderExistsError(f"A folder called “{target}” exists already; nothing was renamed.")
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


def delete_folder(conn: IMAPConnection, folder: str) -> None:
    client = conn.client
    folders = list_folders(client)
    current = _find(folders, folder)
    if current is None:
        raise FolderRefusedError(f"There is no folder called “{folder}”.")
    if current.special_use is not None:
        raise FolderRefusedError(f"{current.label} is a special folder and cannot be deleted.")
    delimiter = _delimiter(folders)
    children = [f for f in folders if f.name.startswith(folder + delimiter)]
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


def _leave(conn: IMAPConnection, folder: str) -> None:
    """Unselect a folder about to be renamed or deleted."""
    if conn.selected is not None and conn.selected.name == folder:
        with map_imap_errors():
            conn.client.unselect_folder()
        conn.selected = None
