from __future__ import annotations

import re

from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import MailUser
from webmail.devservices import DevServices


def fill_mailbox(services: DevServices, user: MailUser) -> None:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    for i in range(3):
        client.append(
            "INBOX",
            f"Subject: m{i}\r\nFrom: a@b\r\n\r\nhello {i}\r\n".encode(),
            flags=[] if i else [b"\\Seen"],
        )
    client.create_folder("Projects/Über 2025")
    client.subscribe_folder("Projects/Über 2025")
    client.append("Projects/Über 2025", b"Subject: x\r\n\r\nbody\r\n")
    client.logout()


class TestFolderPane:
    def test_folders_with_counts_special_use_first(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        fill_mailbox(services, mail_user)
        html = signed_in.get("/mail/INBOX").text
        order = re.findall(r'data-folder="([^"]+)"', html)
        assert order[:6] == ["INBOX", "Drafts", "Sent", "Archive", "Junk", "Trash"]
        assert "Projects/Über 2025" in order
        inbox = html[html.index('data-folder="INBOX"') : html.index('data-folder="Drafts"')]
        assert 'title="2 unread"' in inbox
        assert 'title="3 messages"' in inbox
        assert '<span data-count="messages">3</span>' in html
        assert '<span data-count="unseen">2</span>' in html

    def test_nested_non_ascii_folder(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        fill_mailbox(services, mail_user)
        response = signed_in.get("/mail/Projects/%C3%9Cber%202025")
        assert response.status_code == 200
        assert "Über 2025" in response.text
        assert '<span data-count="messages">1</span>' in response.text

    def test_unknown_folder_is_404(self, signed_in: TestClient) -> None:
        response = signed_in.get("/mail/No%20such%20folder")
        assert response.status_code == 404
        assert "This folder does not exist" in response.text

    def test_signed_out_redirects_to_login(self, client: TestClient) -> None:
        response = client.get("/mail/INBOX")
        assert response.status_code == 303
        assert response.headers["location"] == "/login"

    def test_htmx_request_without_session_redirects_via_header(self, client: TestClient) -> None:
        response = client.get("/mail/INBOX", headers={"HX-Request": "true"})
        assert response.headers["HX-Redirect"] == "/login"

    def test_empty_folder_says_so(self, signed_in: TestClient) -> None:
        assert "This folder is empty." in signed_in.get("/mail/Trash").text

    def test_subfolders_nest_and_unsubscribed_hide(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        fill_mailbox(services, mail_user)
        client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        client.login(mail_user.username, mail_user.password)
        client.create_folder("Hidden")
        client.logout()
        html = signed_in.get("/mail/INBOX").text
        group = re.search(
            r'<details class="subfolders" open>\s*<summary>(.*?)</summary>(.*?)</details>', html, re.S
        )
        assert group, "no collapsible folder group"
        assert '<span class="folder-name">Projects</span>' in group.group(1)
        assert 'data-folder="Projects/Über 2025"' in group.group(2)
        assert 'data-folder="Hidden"' not in html
        assert 'data-folder="Hidden"' in signed_in.get("/mail/INBOX?folders=all").text


def test_status_fallback_matches_list_status(services: DevServices, mail_user: MailUser) -> None:
    """Servers without LIST-STATUS get the same folders and counts through LIST + STATUS."""
    from webmail.imap import folders

    fill_mailbox(services, mail_user)
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    fast = {f.name: (f.messages, f.unseen, f.subscribed, f.special_use) for f in folders._list_status(client)}
    slow = {
        f.name: (f.messages, f.unseen, f.subscribed, f.special_use) for f in folders._list_then_status(client)
    }
    client.logout()
    assert fast == slow
    assert fast["INBOX"][:2] == (3, 2)
