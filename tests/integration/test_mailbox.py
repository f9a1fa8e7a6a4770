from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser


def fill_mailbox(server: IMAPServer, user: MailUser) -> None:
    client = IMAPClient("127.0.0.1", server.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    for i in range(3):
        client.append(
            "INBOX",
            f"Subject: m{i}\r\nFrom: a@b\r\n\r\nhello {i}\r\n".encode(),
            flags=[] if i else [b"\\Seen"],
        )
    for name in (
        "Drafts",
        "Sent",
        "Archive",
        "Junk",
    ):  # as a mail program made them, where the server did not
        if not client.folder_exists(server.folder(name)):
            client.create_folder(server.folder(name))
            client.subscribe_folder(server.folder(name))
    client.create_folder(server.folder("Projects/Über 2025"))
    client.subscribe_folder(server.folder("Projects/Über 2025"))
    client.append(server.folder("Projects/Über 2025"), b"Subject: x\r\n\r\nbody\r\n")
    client.logout()


@pytest.mark.both_servers
class TestFolderPane:
    def test_folders_with_counts_special_use_first(
        self, signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser
    ) -> None:
        fill_mailbox(imap_server, mail_user)
        html = signed_in.get("/mail/INBOX").text
        order = re.findall(r'data-folder="([^"]+)"', html)
        assert order[:6] == [
            imap_server.folder(name) for name in ("INBOX", "Drafts", "Sent", "Archive", "Junk", "Trash")
        ]
        assert imap_server.folder("Projects/Über 2025") in order
        inbox = html[
            html.index('data-folder="INBOX"') : html.index(f'data-folder="{imap_server.folder("Drafts")}"')
        ]
        assert 'title="2 unread"' in inbox
        assert 'title="3 messages"' in inbox
        assert '<span data-count="messages">3</span>' in html
        assert '<span data-count="unseen">2</span>' in html

    def test_nested_non_ascii_folder(
        self, signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser
    ) -> None:
        fill_mailbox(imap_server, mail_user)
        response = signed_in.get(f"/mail/{quote(imap_server.folder('Projects/Über 2025'))}")
        assert response.status_code == 200
        assert "Über 2025" in response.text
        assert '<span data-count="messages">1</span>' in response.text

    def test_in_operator_takes_folder_names_as_shown(
        self, signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser
    ) -> None:
        fill_mailbox(imap_server, mail_user)
        response = signed_in.get("/mail/INBOX", params={"q": "in:Projects hello"})
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/mail/{imap_server.folder('Projects')}?q=")

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

    def test_empty_folder_says_so(self, signed_in: TestClient, imap_server: IMAPServer) -> None:
        assert "This folder is empty." in signed_in.get(f"/mail/{imap_server.folder('Trash')}").text

    def test_subfolders_nest_and_unsubscribed_hide(
        self, signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser
    ) -> None:
        fill_mailbox(imap_server, mail_user)
        client = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
        client.login(mail_user.username, mail_user.password)
        client.create_folder(imap_server.folder("Hidden"))
        client.logout()
        html = signed_in.get("/mail/INBOX").text
        group = re.search(
            r'<details class="subfolders" open>\s*<summary>(.*?)</summary>(.*?)</details>', html, re.S
        )
        assert group, "no collapsible folder group"
        assert '<span class="folder-name">Projects</span>' in group.group(1)
        assert f'data-folder="{imap_server.folder("Projects/Über 2025")}"' in group.group(2)
        assert f'data-folder="{imap_server.folder("Hidden")}"' not in html
        assert (
            f'data-folder="{imap_server.folder("Hidden")}"' in signed_in.get("/mail/INBOX?folders=all").text
        )


def test_status_fallback_matches_list_status(imap_server: IMAPServer, mail_user: MailUser) -> None:
    """Servers without LIST-STATUS get the same folders and counts through LIST + STATUS."""
    from webmail.imap import folders

    fill_mailbox(imap_server, mail_user)
    client = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    fast = {f.name: (f.messages, f.unseen, f.subscribed, f.special_use) for f in folders.list_folders(client)}
    slow = {
        f.name: (f.messages, f.unseen, f.subscribed, f.special_use)
        for f in folders._placed(folders._list_then_status(client), folders.namespaces(client), ())
    }
    client.logout()
    assert fast == slow
    assert fast["INBOX"][:2] == (3, 2)


@pytest.mark.parametrize("imap_server", ["courier"], indirect=True)
def test_shared_folders_have_a_section_of_their_own(
    signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser
) -> None:
    html = signed_in.get("/mail/INBOX?folders=all").text
    pane = html.split('id="folder-list"', 1)[1].split("</nav>")[0]
    order = re.findall(r'data-folder="([^"]+)"', pane)
    assert order[-1] == "Public.Announcements"  # after every personal folder
    section = re.findall(
        r'<details class="subfolders" open>\s*<summary>(.*?)</summary>(.*?)</details>', pane, re.S
    )
    assert [
        (s[0].count('class="folder-name">Public<'), 'data-folder="Public.Announcements"' in s[1])
        for s in section
    ] == [(1, True)]
    assert signed_in.get("/mail/Public.Announcements").status_code == 200


def test_an_error_of_a_signed_in_page_is_shown_inside_the_chrome(signed_in: TestClient) -> None:
    gone = signed_in.get("/mail/INBOX/99999")
    assert gone.status_code == 404
    assert "This message was moved or deleted." in gone.text
    assert 'class="topbar"' in gone.text  # the app's bar and side column, not a bare page
    assert 'class="sidebar"' in gone.text


def test_an_error_without_a_session_has_the_sign_in_look(client: TestClient) -> None:
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "This page does not exist." in missing.text
    assert 'class="login-brand"' in missing.text
    assert 'class="topbar"' not in missing.text
