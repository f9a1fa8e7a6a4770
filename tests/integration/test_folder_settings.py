"""/settings/folders against Dovecot: create, rename and move, delete, subscribe, empty."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, flash_after, session_token
from tests.integration.test_organize import imap, made, put, subjects

__all__ = ["imap"]

pytestmark = pytest.mark.both_servers


def post(client: TestClient, path: str, **fields: str) -> str:
    """POST a folder form; returns the words the page shows next (done, or the refusal beside
    the form, which comes back at once as a 422)."""
    response = client.post(path, data={"csrf_token": session_token(client), **fields})
    assert response.status_code in (200, 303, 422), response.text
    if response.status_code in (200, 422):
        return response.text
    return flash_after(client, response)


def names(imap: IMAPClient) -> set[str]:
    return {name for _, _, name in imap.list_folders()}


def test_create_nested_rename_move_and_delete(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    box = imap_server.folder
    made(imap, box("Sent"))  # as the first message sent makes it where the server did not
    assert "created" in post(signed_in, "/settings/folders", name="Projects")
    assert "created" in post(signed_in, "/settings/folders", name="Alpha", parent=box("Projects"))
    assert {box("Projects"), box("Projects/Alpha")} <= names(imap)
    assert box("Projects/Alpha") in {name for _, _, name in imap.list_sub_folders()}
    put(imap, "Plan", box("Projects/Alpha"))

    page = signed_in.get("/settings/folders").text
    assert f'data-folder="{box("Projects/Alpha")}"' in page
    assert "messages" in page and "All folders together" in page  # noqa: PT018

    # Rename and move under another parent in one step; the message goes along.
    post(signed_in, "/settings/folders", name="Archive2")
    assert f"is now “{imap_server.path('Archive2/Beta')}”" in post(
        signed_in,
        "/settings/folders/rename",
        folder=box("Projects/Alpha"),
        name="Beta",
        parent=box("Archive2"),
    )
    assert subjects(imap, box("Archive2/Beta")) == ["Plan"]

    # Renaming onto an existing name and deleting a special folder: refused, nothing lost.
    post(signed_in, "/settings/folders", name="Taken")
    refused = post(
        signed_in, "/settings/folders/rename", folder=box("Archive2/Beta"), name="Taken", parent=""
    )
    assert "exists already" in refused
    assert subjects(imap, box("Archive2/Beta")) == ["Plan"]
    assert "special folder" in post(signed_in, "/settings/folders/delete", folder=box("Trash"))
    assert "special folder" in post(signed_in, "/settings/folders/rename", folder=box("Sent"), name="Outbox")
    assert {box("Trash"), box("Sent")} <= names(imap)
    assert "cannot contain" in post(signed_in, "/settings/folders", name=f"a{imap_server.delimiter}b")

    # A non-empty folder asks first and says how much goes.
    question = post(signed_in, "/settings/folders/delete", folder=box("Archive2"))
    assert "1 message and 1 subfolder will be deleted for good" in question
    assert "deleted" in post(signed_in, "/settings/folders/delete", folder=box("Archive2"), confirm="1")
    assert not {box("Archive2"), box("Archive2/Beta")} & names(imap)
    # An empty one goes at once.
    assert "deleted" in post(signed_in, "/settings/folders/delete", folder=box("Taken"))


def test_subscribe_and_empty_trash(signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer) -> None:
    quiet, trash = imap_server.folder("Quiet"), imap_server.folder("Trash")
    post(signed_in, "/settings/folders", name="Quiet")
    assert "hidden" in post(signed_in, "/settings/folders/subscribe", folder=quiet, subscribed="0")
    assert quiet not in {name for _, _, name in imap.list_sub_folders()}
    assert "Quiet" not in signed_in.get("/mail/INBOX").text.split('id="folder-list"', 1)[1].split("</nav>")[0]
    assert "shown" in post(signed_in, "/settings/folders/subscribe", folder=quiet, subscribed="1")
    assert quiet in {name for _, _, name in imap.list_sub_folders()}

    for subject in ("one", "two", "three"):
        put(imap, subject, trash)
    keep = put(imap, "keep me", "INBOX")
    question = post(signed_in, "/settings/folders/empty", folder=trash)
    assert "3 messages will be deleted for good" in question
    assert "3 messages deleted for good" in post(
        signed_in, "/settings/folders/empty", folder=trash, confirm="1"
    )
    assert subjects(imap, trash) == []
    assert "keep me" in subjects(imap, "INBOX")
    assert keep
    assert "Only Trash and Junk" in post(signed_in, "/settings/folders/empty", folder="INBOX", confirm="1")
    assert "keep me" in subjects(imap, "INBOX")


def test_new_folders_go_into_the_personal_namespace_and_show_without_its_prefix(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    assert post(signed_in, "/settings/folders", name="Projects") == "Folder “Projects” created."
    assert imap_server.folder("Projects") in names(imap)
    post(signed_in, "/settings/folders", name="Alpha", parent=imap_server.folder("Projects"))
    pane = signed_in.get("/mail/INBOX").text.split('id="folder-list"', 1)[1].split("</nav>")[0]
    assert '<span class="folder-name">INBOX.' not in pane
    # Top-level folders are not children of INBOX, even where their names start with "INBOX."
    inbox_item = pane.split('data-folder="INBOX"', 1)[1].split("</li>", 1)[0]
    assert 'data-folder="' not in inbox_item
    settings_page = signed_in.get("/settings/folders").text
    assert f">{imap_server.path('Projects/Alpha')}</option>" in settings_page


def test_renaming_and_deleting_the_folder_being_read(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    """Leaving the folder first needs UNSELECT, or EXAMINE where the server lacks it."""
    post(signed_in, "/settings/folders", name="Reading")
    uid = put(imap, "Open me", imap_server.folder("Reading"))
    assert signed_in.get(f"/mail/{imap_server.folder('Reading')}/{uid}").status_code == 200
    renamed = post(signed_in, "/settings/folders/rename", folder=imap_server.folder("Reading"), name="Read")
    assert renamed == "“Reading” is now “Read”."
    assert signed_in.get(f"/mail/{imap_server.folder('Read')}/{uid}").status_code == 200
    deleted = post(signed_in, "/settings/folders/delete", folder=imap_server.folder("Read"), confirm="1")
    assert deleted == "Folder “Read” deleted."
    assert imap_server.folder("Read") not in names(imap)


def test_special_folders_chosen_by_hand(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    bin_folder = imap_server.folder("Old mail")
    post(signed_in, "/settings/folders", name="Old mail")
    fields = {"drafts": "", "sent": "", "archive": "", "junk": "", "trash": bin_folder}
    assert post(signed_in, "/settings/folders/special", **fields) == "Special folders saved."
    page = signed_in.get("/settings/folders").text
    assert f'<option value="{bin_folder}" selected>Old mail</option>' in page
    uid = put(imap, "Going")
    token = session_token(signed_in)
    assert signed_in.post(f"/mail/INBOX/{uid}/delete", data={"csrf_token": token}).status_code == 303
    assert subjects(imap, bin_folder) == ["Going"]
    assert "special folder" in post(signed_in, "/settings/folders/delete", folder=bin_folder)
    # The general settings form keeps the choice.
    signed_in.post("/settings", data={"csrf_token": token, "page_size": "50", "mark_seen": "immediately"})
    assert f'<option value="{bin_folder}" selected>' in signed_in.get("/settings/folders").text

    refused = post(signed_in, "/settings/folders/special", **{**fields, "sent": bin_folder})
    assert refused.startswith("One folder cannot be two special folders.")
    assert post(signed_in, "/settings/folders/special", **{**fields, "trash": "Nowhere"}).startswith(
        "There is no folder called “Nowhere”."
    )
    assert post(signed_in, "/settings/folders/special", **{**fields, "trash": ""}) == "Special folders saved."
    assert "Going" not in subjects(imap, imap_server.folder("Trash"))
    uid = put(imap, "Back to normal")
    assert signed_in.post(f"/mail/INBOX/{uid}/delete", data={"csrf_token": token}).status_code == 303
    assert subjects(imap, imap_server.folder("Trash")) == ["Back to normal"]


def test_a_folder_holding_a_special_folder_keeps_its_name(
    signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
) -> None:
    """Renaming or deleting it would take the special folder along."""
    old = imap_server.folder("Old mail")
    post(signed_in, "/settings/folders", name="Old mail")
    post(signed_in, "/settings/folders", name="Bin", parent=old)
    bin_folder = imap_server.folder("Old mail/Bin")
    fields = {"drafts": "", "sent": "", "archive": "", "junk": "", "trash": bin_folder}
    assert post(signed_in, "/settings/folders/special", **fields) == "Special folders saved."
    put(imap, "Kept", bin_folder)
    row = signed_in.get("/settings/folders").text.split(f'data-folder="{old}"', 1)[1].split("</li>", 1)[0]
    assert "Holds a special folder" in row
    assert "/settings/folders/delete" not in row and "/settings/folders/rename" not in row  # noqa: PT018

    for action, extra in (("delete", {}), ("delete", {"confirm": "1"}), ("rename", {"name": "Older"})):
        said = post(signed_in, f"/settings/folders/{action}", folder=old, **extra)
        verb = "renamed" if action == "rename" else "deleted"
        assert f"Old mail holds Bin, a special folder, and cannot be {verb}." in said, said
    assert {old, bin_folder} <= names(imap)
    assert subjects(imap, bin_folder) == ["Kept"]
