from __future__ import annotations

from webmail.imap.types import Folder


def folder(name: str, *flags: str, subscribed: bool = True) -> Folder:
    return Folder(name, "/", frozenset(flags), subscribed)


def test_special_use_first_in_fixed_order_then_alphabetical() -> None:
    folders = [
        folder("zeta"),
        folder("Papierkorb", "\\Trash"),
        folder("Alpha"),
        folder("INBOX"),
        folder("Gesendet", "\\Sent"),
        folder("Spam", "\\Junk"),
        folder("Entwürfe", "\\Drafts"),
        folder("Archiv", "\\Archive"),
        folder("alpha/child"),
    ]
    ordered = [f.name for f in sorted(folders, key=lambda f: f.sort_key)]
    assert ordered == [
        "INBOX", "Entwürfe", "Gesendet", "Archiv", "Spam", "Papierkorb", "Alpha", "alpha/child", "zeta",
    ]  # fmt: skip


def test_label_depth_and_selectable() -> None:
    nested = folder("Projects/Website/2025")
    assert nested.label == "2025"
    assert nested.depth == 2
    assert folder("INBOX").label == "Inbox"
    assert not folder("Projects", "\\Noselect").selectable
    assert folder("inbox").special_use == "\\Inbox"


def test_special_use_only_counts_at_top_level_for_order() -> None:
    nested_trash = folder("Old/Trash", "\\Trash")
    assert nested_trash.sort_key[0] == 6
