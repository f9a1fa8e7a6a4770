"""/settings/folders against Dovecot: create, rename and move, delete, subscribe, empty."""

from __future__ import annotations

from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import flash_after, session_token
from tests.integration.test_organize import imap, put, subjects

__all__ = ["imap"]


def post(client: TestClient, path: str, **fields: str) -> str:
    """POST a folder form; returns the words the page shows next (done or error)."""
    response = client.post(path, data={"csrf_token": session_token(client), **fields})
    assert response.status_code in (200, 303), response.text
    if response.status_code == 200:
        return response.text
    return flash_after(client, response)


def names(imap: IMAPClient) -> set[str]:
    return {name for _, _, name in imap.list_folders()}


def test_create_nested_rename_move_and_delete(signed_in: TestClient, imap: IMAPClient) -> None:
    assert "created" in post(signed_in, "/settings/folders", name="Projects")
    assert "created" in post(signed_in, "/settings/folders", name="Alpha", parent="Projects")
    assert {"Projects", "Projects/Alpha"} <= names(imap)
    assert "Projects/Alpha" in {name for _, _, name in imap.list_sub_folders()}
    put(imap, "Plan", "Projects/Alpha")

    page = signed_in.get("/settings/folders").text
    assert 'data-folder="Projects/Alpha"' in page
    assert "Messages" in page and "Size" in page  # noqa: PT018

    # Rename and move under another parent in one step; the message goes along.
    post(signed_in, "/settings/folders", name="Archive2")
    assert "is now “Archive2/Beta”" in post(
        signed_in, "/settings/folders/rename", folder="Projects/Alpha", name="Beta", parent="Archive2"
    )
    assert subjects(imap, "Archive2/Beta") == ["Plan"]

    # Renaming onto an existing name and deleting a special folder: refused, nothing lost.
    post(signed_in, "/settings/folders", name="Taken")
    refused = post(signed_in, "/settings/folders/rename", folder="Archive2/Beta", name="Taken", parent="")
    assert "exists already" in refused
    assert subjects(imap, "Archive2/Beta") == ["Plan"]
    assert "special folder" in post(signed_in, "/settings/folders/delete", folder="Trash")
    assert "special folder" in post(signed_in, "/settings/folders/rename", folder="Sent", name="Outbox")
    assert {"Trash", "Sent"} <= names(imap)
    assert "cannot contain" in post(signed_in, "/settings/folders", name="a/b")

    # A non-empty folder asks first and says how much goes.
    question = post(signed_in, "/settings/folders/delete", folder="Archive2")
    assert "1 message and 1 subfolder will be deleted for good" in question
    assert "deleted" in post(signed_in, "/settings/folders/delete", folder="Archive2", confirm="1")
    assert not {"Archive2", "Archive2/Beta"} & names(imap)
    # An empty one goes at once.
    assert "deleted" in post(signed_in, "/settings/folders/delete", folder="Taken")


def test_subscribe_and_empty_trash(signed_in: TestClient, imap: IMAPClient) -> None:
    post(signed_in, "/settings/folders", name="Quiet")
    assert "hidden" in post(signed_in, "/settings/folders/subscribe", folder="Quiet", subscribed="0")
    assert "Quiet" not in {name for _, _, name in imap.list_sub_folders()}
    assert "Quiet" not in signed_in.get("/mail/INBOX").text.split('id="folder-list"', 1)[1].split("</nav>")[0]
    assert "shown" in post(signed_in, "/settings/folders/subscribe", folder="Quiet", subscribed="1")
    assert "Quiet" in {name for _, _, name in imap.list_sub_folders()}

    for subject in ("one", "two", "three"):
        put(imap, subject, "Trash")
    keep = put(imap, "keep me", "INBOX")
    question = post(signed_in, "/settings/folders/empty", folder="Trash")
    assert "3 messages will be deleted for good" in question
    assert "3 messages deleted for good" in post(
        signed_in, "/settings/folders/empty", folder="Trash", confirm="1"
    )
    assert subjects(imap, "Trash") == []
    assert "keep me" in subjects(imap, "INBOX")
    assert keep
    assert "Only Trash and Junk" in post(signed_in, "/settings/folders/empty", folder="INBOX", confirm="1")
    assert "keep me" in subjects(imap, "INBOX")
