"""Free up space: folder sizes with and without STATUS=SIZE, the largest messages and
attachments, what emptying the bins frees, and deleting from the page with Undo."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import (
    LOCAL_CLIENT,
    MailUser,
    flash_after,
    make_settings,
    session_token,
    sign_in,
    undo_form,
)
from webmail.app import create_app
from webmail.devservices import DevServices
from webmail.devservices.dovecot import Dovecot, start_dovecot

pytestmark = pytest.mark.integration

KB = 1024
# Dovecot's own list, less STATUS=SIZE and SORT: sizes are summed, the largest found without SORT.
PLAIN_SERVER = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE THREAD=REFERENCES THREAD=REFS MULTIAPPEND UNSELECT "
    "CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN "
    "CONTEXT=SEARCH LIST-STATUS BINARY MOVE SPECIAL-USE QUOTA"
)


def text_message(subject: str, size: int) -> bytes:
    return f"From: a@example.org\r\nSubject: {subject}\r\n\r\n".encode() + b"y" * size + b"\r\n"


def with_attachment(subject: str, size: int) -> bytes:
    message = EmailMessage()
    message["From"] = "b@example.org"
    message["Subject"] = subject
    message.set_content("See the file.")
    message.add_attachment(
        b"\x00" * size, maintype="application", subtype="octet-stream", filename="data.bin"
    )
    return message.as_bytes().replace(b"\n", b"\r\n")


def fill(imap: IMAPClient) -> None:
    imap.append("INBOX", text_message("small", 2 * KB))
    imap.append("INBOX", text_message("large text", 300 * KB))
    imap.append("Archive", with_attachment("with file", 200 * KB))
    imap.append("Trash", text_message("binned", 50 * KB))
    imap.append("Junk", text_message("spam", 10 * KB))


def sizes_on(page: str) -> dict[str, int]:
    table = page.split('class="storage-table folder-sizes"', 1)[1].split("</table>", 1)[0]
    return {name: int(size) for name, size in re.findall(r'data-folder="([^"]+)" data-size="(\d+)"', table)}


def true_sizes(imap: IMAPClient) -> dict[str, int]:
    sizes = {}
    for _, _, name in imap.list_folders():
        imap.select_folder(name, readonly=True)
        uids = imap.search(["ALL"])
        sizes[name] = (
            sum(row[b"RFC822.SIZE"] for row in imap.fetch(uids, ["RFC822.SIZE"]).values()) if uids else 0
        )
    return sizes


def largest_on(page: str) -> list[str]:
    section = page.split('id="largest-title"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', section)


def check_page(client: TestClient, imap: IMAPClient) -> str:
    page = client.get("/settings/storage")
    assert page.status_code == 200
    text = page.text
    assert sizes_on(text) == true_sizes(imap)
    assert list(sizes_on(text).values()) == sorted(sizes_on(text).values(), reverse=True)
    assert largest_on(text) == ["large text", "with file", "binned", "spam", "small"]
    attachments = text.split('id="attachments-title"', 1)[1].split("</section>", 1)[0]
    assert "with file" in attachments
    assert "data.bin" in attachments
    assert "large text" not in attachments
    trash = re.search(
        r'data-folder="Trash">\s*<span>Emptying <strong>Trash</strong> frees <strong data-frees>([^<]+)<',
        text,
    )
    assert trash, text
    return text


def test_with_status_size(services: DevServices, mail_user: MailUser, signed_in: TestClient) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    assert b"STATUS=SIZE" in imap.capabilities()
    fill(imap)
    check_page(signed_in, imap)
    imap.logout()


@pytest.fixture(scope="module")
def plain_dovecot() -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="webmail-nosize-"))
    root.chmod(0o755)
    dovecot = start_dovecot(root / "dovecot", imap_capability=PLAIN_SERVER)
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


def settled(client: TestClient, seconds: float = 10) -> str:
    """The page's overview block, as its self-polling asks for it, once nothing is calculating."""
    deadline = time.monotonic() + seconds
    while True:
        block = client.get(
            "/settings/storage", headers={"HX-Request": "true", "HX-Target": "storage-overview"}
        ).text
        if "data-calculating=" not in block:
            return block
        assert time.monotonic() < deadline, "the folder sizes were never counted"
        time.sleep(0.05)


def test_without_status_size_or_sort(
    services: DevServices, database_url: str, plain_dovecot: Dovecot
) -> None:
    user = MailUser(plain_dovecot.new_user("pw"), "pw")
    imap = IMAPClient("127.0.0.1", plain_dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    assert b"STATUS=SIZE" not in imap.capabilities()
    fill(imap)
    settings = make_settings(services, database_url, imap_port=plain_dovecot.imap_port)
    with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as client:
        assert sign_in(client, user).status_code == 303
        first = client.get("/settings/storage").text  # counted off the request: not there yet
        assert 'data-calculating="4"' in first  # INBOX, Archive, Trash, Junk; the empty ones are 0
        assert "Calculating the size of 4 folders…" in first
        assert set(sizes_on(first).values()) == {0}
        assert 'data-folder="Trash" data-calculating' in first
        partial = settled(client)
        assert 'id="storage-overview"' in partial
        assert "<html" not in partial  # the self-polling block only
        check_page(client, imap)
        imap.append("INBOX", text_message("new arrival", 100 * KB))  # the counted size follows
        assert 'data-folder="INBOX" data-calculating' in client.get("/settings/storage").text
        settled(client)
        assert sizes_on(client.get("/settings/storage").text) == true_sizes(imap)
    imap.logout()


def test_delete_from_the_page_with_undo(
    services: DevServices, mail_user: MailUser, signed_in: TestClient
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    fill(imap)
    page = signed_in.get("/settings/storage").text
    assert 'href="/mail/INBOX/2/raw"' in page
    response = signed_in.post(
        "/mail/INBOX/bulk",
        data={
            "csrf_token": session_token(signed_in),
            "action": "delete",
            "uid": "2",
            "next": "/settings/storage",
        },
    )
    assert response.headers["location"] == "/settings/storage"
    after = signed_in.get("/settings/storage").text
    assert "1 message moved to Trash." in after
    action, fields = undo_form(after)
    assert action == "/mail/Trash/undo"
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search(["ALL"])) == 1
    undone = signed_in.post(action, data={"csrf_token": session_token(signed_in), **fields})
    assert undone.status_code == 303
    assert flash_after(signed_in, undone)
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search(["ALL"])) == 2
    imap.logout()
