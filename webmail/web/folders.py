"""The folder pane as a tree: special-use folders first, subfolders collapsible, shared and other
users' folders (RFC 2342 namespaces) each in a section of their own at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from webmail.imap.types import Folder, Namespace


@dataclass
class FolderNode:
    folder: Folder
    children: list[FolderNode] = field(default_factory=list)

    @property
    def unseen_below(self) -> int:
        return sum((child.folder.unseen or 0) + child.unseen_below for child in self.children)


def folder_tree(folders: list[Folder], *, show_all: bool) -> list[FolderNode]:
    """Nest folders by their delimiter; hide unsubscribed ones unless ``show_all``.

    A parent of a shown folder is always shown, so the hierarchy stays readable. Folders outside
    the personal namespace go below a heading named after their namespace (``Public``, ``shared``).
    """
    by_name = {folder.name: folder for folder in folders}
    shown = {
        folder.name for folder in folders if show_all or folder.subscribed or folder.special_use is not None
    }
    for name in list(shown):
        folder = by_name[name]
        parts = name.split(folder.delimiter) if folder.delimiter else [name]
        for depth in range(1, len(parts)):
            parent = folder.delimiter.join(parts[:depth])
            if parent in by_name:
                shown.add(parent)
    nodes = {name: FolderNode(by_name[name]) for name in shown}
    roots: list[FolderNode] = []
    sections: dict[Namespace, FolderNode] = {}
    for folder in folders:  # already in display order
        if folder.name not in nodes or folder.name == _heading(folder.namespace):
            continue
        node = nodes[folder.name]
        if folder.parent is not None and folder.parent in nodes:
            nodes[folder.parent].children.append(node)
        elif folder.namespace.kind == "personal":
            roots.append(node)
        else:
            if folder.namespace not in sections:
                sections[folder.namespace] = FolderNode(_section_folder(folder.namespace, by_name))
            sections[folder.namespace].children.append(node)
    return roots + list(sections.values())


def _heading(namespace: Namespace) -> str | None:
    """The name of a namespace itself (``Public`` for ``Public.``); None for the top level."""
    if namespace.kind == "personal" or not namespace.prefix:
        return None
    return namespace.prefix.removesuffix(namespace.delimiter) if namespace.delimiter else namespace.prefix


def _section_folder(namespace: Namespace, by_name: dict[str, Folder]) -> Folder:
    name = _heading(namespace) or namespace.kind
    listed = by_name.get(name)
    if listed is not None:
        return listed
    return Folder(name, namespace.delimiter, frozenset({"\\Noselect"}), True, namespace=namespace)
