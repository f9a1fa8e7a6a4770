from __future__ import annotations

import unicodedata

from webmail.imap.types import (
    Folder,
    FolderState,
    MessagePage,
    MessageSummary,
    Namespace,
    Namespaces,
    SpecialChoices,
    ThreadRow,
    find_special,
    special_folders,
)


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
    ordered = [f.name for f in sorted(special_folders(folders), key=lambda f: f.sort_key)]
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
    [nested_trash] = special_folders([folder("Old/Trash", "\\Trash")])
    assert nested_trash.sort_key[0] == 6


NESTED = Namespaces(Namespace("personal", "INBOX.", "."), (Namespace("shared", "Public.", "."),))


def nested(name: str, *flags: str) -> Folder:
    """A folder of a server that keeps everything below ``INBOX.`` (Courier, Debian's Cyrus)."""
    return Folder(name, ".", frozenset(flags), True, namespace=NESTED.of(name))


def uses(folders: list[Folder], chosen: SpecialChoices | None = None) -> dict[str, str]:
    return {f.use: f.name for f in special_folders(folders, chosen) if f.use}


class TestSpecialFolders:
    def test_attributes_without_case_at_any_depth(self) -> None:
        folders = [folder("INBOX"), folder("Mail/Sent", "\\sent"), folder("Mail/Bin", "\\TRASH")]
        assert uses(folders) == {"\\Sent": "Mail/Sent", "\\Trash": "Mail/Bin"}
        assert find_special(special_folders(folders), "\\Sent") == special_folders(folders)[1]

    def test_the_personal_and_shallowest_attribute_wins(self) -> None:
        folders = [
            nested("Public.Sent", "\\Sent"), nested("INBOX.Old.Sent", "\\Sent"), nested("INBOX.Sent", "\\Sent"),
        ]  # fmt: skip
        assert uses(folders)["\\Sent"] == "INBOX.Sent"

    def test_common_names_at_the_top_of_the_personal_namespace(self) -> None:
        folders = [
            nested("INBOX"), nested("INBOX.Sent Items"), nested("INBOX.deleted messages"), nested("INBOX.Spam"),
            nested("INBOX.Projects.Drafts"), nested("Public.Archive"), nested("INBOX.Archives"),
        ]  # fmt: skip
        assert uses(folders) == {
            "\\Sent": "INBOX.Sent Items", "\\Trash": "INBOX.deleted messages", "\\Junk": "INBOX.Spam",
            "\\Archive": "INBOX.Archives",
        }  # fmt: skip

    def test_localised_names_and_the_first_name_in_the_list_first(self) -> None:
        folders = [folder(name) for name in ("Gesendet", "Papierkorb", "Entwürfe", "Trash", "Corbeille")]
        assert uses(folders) == {"\\Sent": "Gesendet", "\\Trash": "Trash", "\\Drafts": "Entwürfe"}
        decomposed = folder(unicodedata.normalize("NFD", "Entwürfe"))  # as macOS may write it
        assert uses([decomposed]) == {"\\Drafts": decomposed.name}

    def test_an_attribute_beats_a_name_and_a_choice_beats_both(self) -> None:
        folders = [folder("Trash"), folder("Rubbish", "\\Trash"), folder("Old mail")]
        assert uses(folders)["\\Trash"] == "Rubbish"
        assert uses(folders, {"\\Trash": "Old mail"})["\\Trash"] == "Old mail"

    def test_a_choice_of_a_missing_folder_falls_back(self) -> None:
        assert uses([folder("Trash")], {"\\Trash": "Gone"}) == {"\\Trash": "Trash"}

    def test_each_folder_one_use_never_inbox_never_unselectable(self) -> None:
        folders = [
            folder("INBOX", "\\Sent"),
            folder("Both", "\\Sent", "\\Trash"),
            folder("Trash", "\\Noselect"),
        ]
        assert uses(folders) == {"\\Sent": "Both"}
        assert uses([folder("Sent")], {"\\Trash": "Sent"}) == {"\\Trash": "Sent"}


class TestNamespaces:
    def test_folders_below_inbox_are_shown_without_the_prefix(self) -> None:
        sent, deep, inbox = nested("INBOX.Sent"), nested("INBOX.Projects.Alpha"), nested("INBOX")
        assert (sent.path, sent.depth, sent.label, sent.parent) == ("Sent", 0, "Sent", None)
        assert (deep.path, deep.depth, deep.label, deep.parent) == (
            "Projects.Alpha",
            1,
            "Alpha",
            "INBOX.Projects",
        )
        assert (inbox.path, inbox.depth, inbox.label) == ("INBOX", 0, "Inbox")

    def test_shared_folders_sort_after_the_personal_ones(self) -> None:
        folders = [
            nested("Public.Announcements"),
            nested("INBOX.zeta"),
            nested("INBOX.Trash", "\\Trash"),
            nested("INBOX"),
        ]
        ordered = [f.name for f in sorted(special_folders(folders), key=lambda f: f.sort_key)]
        assert ordered == ["INBOX", "INBOX.Trash", "INBOX.zeta", "Public.Announcements"]
        assert nested("Public.Announcements").namespace.kind == "shared"
        assert nested("Public").namespace.kind == "shared"  # the namespace's own name

    def test_names_the_app_builds_go_into_the_personal_namespace(self) -> None:
        assert NESTED.folder_name("Archive", "2026") == "INBOX.Archive.2026"
        assert Namespaces().folder_name("Archive", "2026") == "Archive/2026"
        assert NESTED.path("INBOX.Archive.2026") == "Archive.2026"
        assert NESTED.path("Public.News") == "News"


def test_a_page_takes_the_flags_of_now() -> None:
    summary = MessageSummary(7, "s", (), (), (), None, None, 1, frozenset({"\\Seen"}), False, None, None)
    page = MessagePage(
        FolderState("INBOX", 1, 1, 8, None),
        1,
        1,
        50,
        "arrival",
        True,
        (summary,),
        (ThreadRow(summary, 0, 1, 7),),
    )
    flagged = page.with_flags({7: frozenset({"\\Seen", "\\Flagged"})})
    assert flagged.messages[0].flagged
    assert flagged.threads is not None and flagged.threads[0].summary.flagged  # noqa: PT018
    assert page.with_flags({7: frozenset({"\\Seen"})}) == page
