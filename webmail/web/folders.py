"""The folder pane as a tree: special-use folders first, subfolders collapsible."""

from __future__ import annotations

from dataclasses import dataclass, field

from webmail.imap.types import Folder


@dataclass
class FolderNode:
    folder: Folder
    children: list[FolderNode] = field(default_factory=list)

    @property
    def unseen_below(self) -> int:
        return sum((child.folder.unseen or 0) + child.unseen_below for child in self.children)


def folder_tree(folders: list[Folder], *, show_all: bool) -> list[FolderNode]:
    """Nest folders by their delimiter; hide unsubscribed ones unless ``show_all``.

    A parent of a shown folder is always shown, so the hierarchy stays readable.
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
    for folder in folders:  # already in display order
        if folder.name not in nodes:
            continue
        node = nodes[folder.name]
        parent_name = (
            folder.name.rsplit(folder.delimiter, 1)[0] if folder.delimiter and folder.depth else None
        )
        if parent_name and parent_name in nodes:
            nodes[parent_name].children.append(node)
        else:
            roots.append(node)
    return roots
