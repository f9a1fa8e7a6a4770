"""Folder listing with counts: one LIST-STATUS round trip when the server has it (RFC 5819),
else LIST and a STATUS per folder; each folder placed in its namespace (RFC 2342) and the special
ones decided (``types.special_folders``)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from imapclient import IMAPClient
from imapclient.imap_utf7 import decode as decode_utf7

from webmail.imap.raw import list_status, listed_folders, parse_atoms
from webmail.imap.types import (
    Folder,
    Namespace,
    NamespaceKind,
    Namespaces,
    SpecialChoices,
    SpecialUse,
    special_folders,
)  # fmt: skip

STATUS_ITEMS = ("MESSAGES", "UNSEEN", "UIDVALIDITY", "UIDNEXT")

# A connection's namespaces do not change while it is logged in: asked once per client.
_namespaces: weakref.WeakKeyDictionary[IMAPClient, Namespaces] = weakref.WeakKeyDictionary()


def list_folders(
    client: IMAPClient, *, with_size: bool = False, chosen: SpecialChoices | None = None
) -> list[Folder]:
    """All folders with flags, subscription and MESSAGES/UNSEEN counts, in display order.

    ``chosen`` are the special folders the user picked by hand (use to folder name).
    """
    extra = ["SIZE"] if with_size and b"STATUS=SIZE" in client.capabilities() else []
    choices = tuple(sorted((chosen or {}).items()))
    if b"LIST-STATUS" in client.capabilities():
        list_lines, status_lines = list_status(client, _list_status_options(client, extra))
        # The same answer as last time gives the same folders: parsed once (most requests).
        return list(
            _listed_folders(
                _hashable(list_lines),
                _hashable(status_lines),
                client.folder_encode,
                namespaces(client),
                choices,
            )
        )
    return _placed(_list_then_status(client, extra), namespaces(client), choices)


def _placed(
    folders: Sequence[Folder], spaces: Namespaces, choices: tuple[tuple[SpecialUse, str], ...]
) -> list[Folder]:
    placed = [replace(folder, namespace=spaces.of(folder.name)) for folder in folders]
    return sorted(special_folders(placed, dict(choices)), key=lambda folder: folder.sort_key)


@lru_cache(maxsize=1024)
def _listed_folders(
    list_lines: tuple[Any, ...], status_lines: tuple[Any, ...], folder_encode: bool, spaces: Namespaces,
    choices: tuple[tuple[SpecialUse, str], ...],
) -> tuple[Folder, ...]:  # fmt: skip
    """A pure function of the server's words (and the user's choices): a hit is exactly what
    parsing again would give, so the bounded cache is shared by every user of the process."""
    listed = listed_folders(list_lines, folder_encode=folder_encode)
    return tuple(_placed(_parse_list_status(listed, status_lines), spaces, choices))


def _hashable(value: Any) -> Any:
    """imaplib's and imapclient's lists and tuples of bytes as nested tuples."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    return value


def namespaces(client: IMAPClient) -> Namespaces:
    """The account's namespaces (RFC 2342); without NAMESPACE, one personal namespace at the top
    with the delimiter LIST gives."""
    known = _namespaces.get(client)
    if known is None:
        known = _namespaces[client] = _ask_namespaces(client)
    return known


def _ask_namespaces(client: IMAPClient) -> Namespaces:
    if b"NAMESPACE" not in client.capabilities():
        listed = client.list_folders("", "")  # LIST "" "" answers the delimiter (RFC 3501 6.3.8)
        delimiter = next((_text(d) for _, d, _ in listed if d), "/")
        return Namespaces(Namespace("personal", "", delimiter))
    answer = client.namespace()
    kinds: tuple[tuple[NamespaceKind, Any], ...] = (
        ("personal", answer.personal), ("other", answer.other), ("shared", answer.shared),
    )  # fmt: skip
    found = [
        Namespace(kind, _text(prefix), _text(delimiter) if delimiter is not None else "")
        for kind, entries in kinds
        for prefix, delimiter in entries or ()
    ]
    personal = [ns for ns in found if ns.kind == "personal"]
    if not personal:
        return Namespaces(others=tuple(found))
    # The first personal namespace is where the user's own folders are created (RFC 2342 5).
    return Namespaces(personal[0], tuple(ns for ns in found if ns is not personal[0]))


def _list_status_options(client: IMAPClient, extra: list[str]) -> list[str]:
    options = ["SUBSCRIBED", "CHILDREN"]
    if b"SPECIAL-USE" in client.capabilities():
        options.append("SPECIAL-USE")
    items = [*STATUS_ITEMS, *extra]
    if b"CONDSTORE" in client.capabilities():
        items.append("HIGHESTMODSEQ")
    options.append(f"STATUS ({' '.join(items)})")
    return options


def _parse_list_status(listed: Sequence[Any], status_lines: Sequence[Any]) -> list[Folder]:
    # Parsed as one response: a name with quotes or brackets comes as a literal, which imaplib
    # keeps as a (line, literal) pair with the rest of its line as the next item.
    parsed = parse_atoms(status_lines)
    counts = {
        _folder_name(name): _pairs(items) for name, items in zip(parsed[::2], parsed[1::2], strict=True)
    }
    folders = []
    for flags, delimiter, name in listed:
        flag_names = frozenset(_text(flag) for flag in flags)
        status = counts.get(name, {})
        folders.append(
            Folder(
                name=name,
                delimiter=_text(delimiter or b""),
                flags=flag_names - {"\\Subscribed"},
                subscribed="\\Subscribed" in flag_names,
                messages=status.get("MESSAGES"),
                unseen=status.get("UNSEEN"),
                uidvalidity=status.get("UIDVALIDITY"),
                highestmodseq=status.get("HIGHESTMODSEQ"),
                size=status.get("SIZE"),
                uidnext=status.get("UIDNEXT"),
            )
        )
    return folders


def _list_then_status(client: IMAPClient, extra: list[str] | None = None) -> list[Folder]:
    subscribed = {name for _, _, name in client.list_sub_folders()}
    folders = []
    for flags, delimiter, name in client.list_folders():
        flag_names = frozenset(_text(flag) for flag in flags)
        folder = Folder(name, _text(delimiter or b""), flag_names, name in subscribed)
        if folder.selectable:
            status = client.folder_status(name, [item.encode() for item in (*STATUS_ITEMS, *(extra or []))])
            folder = Folder(
                folder.name,
                folder.delimiter,
                folder.flags,
                folder.subscribed,
                messages=int(status[b"MESSAGES"]),
                unseen=int(status[b"UNSEEN"]),
                uidvalidity=int(status[b"UIDVALIDITY"]),
                size=int(status[b"SIZE"]) if b"SIZE" in status else None,
                uidnext=int(status[b"UIDNEXT"]),
            )
        folders.append(folder)
    return folders


def _folder_name(raw: bytes | str | int) -> str:
    if isinstance(raw, int):
        return str(raw)
    return str(decode_utf7(raw))


def _pairs(items: tuple[object, ...]) -> dict[str, int]:
    it = iter(items)
    return {_text(key): int(value) for key, value in zip(it, it, strict=True)}  # type: ignore[call-overload]


def _text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
