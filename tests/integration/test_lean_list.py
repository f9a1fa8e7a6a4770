"""The list partial stays lean (issue 16): no form and no CSRF token per row."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import MailUser
from webmail.devservices import DevServices

LIST = {"HX-Request": "true", "HX-Target": "message-list"}


def test_fifty_rows_share_their_forms(
    signed_in: TestClient, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    for i in range(60):
        flags = [b"\\Seen", b"\\Flagged"] if i % 2 else []
        imap.append(
            "INBOX",
            f"From: Sender {i} <s{i}@example.org>\r\nSubject: Row {i}\r\n\r\nBody {i}\r\n".encode(),
            flags=flags,
        )
    imap.logout()
    page = signed_in.get("/mail/INBOX", headers=LIST).text
    rows = re.findall(r'<li id="msg-\d+".*?</li>', page, re.S)
    assert len(rows) == 50
    assert all("<form" not in row and "csrf_token" not in row for row in rows)
    assert all(re.search(r'data-uid="\d+"', row) for row in rows)
    # Five shared forms' tokens (bulk bar, star, unstar, row tools, the menu's background export),
    # whatever the number of rows.
    assert page.count('name="csrf_token"') == 5
    starred = [row for row in rows if 'aria-pressed="true"' in row]
    assert len(starred) == 25
    assert all('form="row-unstar"' in row for row in starred)
    assert len(page.encode()) < 1200 * 50  # was 2.8 KB a row


def test_the_star_without_javascript_is_the_bulk_action(
    signed_in: TestClient, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Star\r\n\r\nx\r\n")
    imap.select_folder("INBOX")
    uid = imap.search(["ALL"])[0]
    page = signed_in.get("/mail/INBOX").text
    form = re.search(r'<form id="row-star" method="post" action="([^"]+)".*?</form>', page, re.S)
    assert form
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(0)))
    response = signed_in.post(form.group(1), data={**fields, "uid": str(uid)})
    assert response.status_code == 303
    assert b"\\Flagged" in imap.get_flags([uid])[uid]
    imap.logout()


def test_a_rendered_list_is_reused_until_the_mailbox_changes(
    signed_in: TestClient, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: First\r\n\r\nx\r\n")
    first = signed_in.get("/mail/INBOX", headers=LIST)
    again = signed_in.get("/mail/INBOX", headers=LIST)
    assert again.text == first.text
    assert again.headers["vary"] == "HX-Request"
    # Changes made elsewhere show at once: a flag, a new message, an expunge.
    imap.select_folder("INBOX")
    uid = imap.search(["SUBJECT", "First"])[0]
    imap.add_flags([uid], [b"\\Flagged"])
    flagged = signed_in.get("/mail/INBOX", headers=LIST).text
    assert 'class="msg unseen flagged"' in flagged
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Second\r\n\r\nx\r\n")
    assert "Second" in signed_in.get("/mail/INBOX", headers=LIST).text
    imap.delete_messages([uid])
    imap.expunge()
    gone = signed_in.get("/mail/INBOX", headers=LIST).text
    assert "First" not in gone
    assert "Second" in gone
    # Another query is another rendering; another folder's change reaches the move menus.
    assert signed_in.get("/mail/INBOX?sort=subject", headers=LIST).text != gone
    imap.create_folder("Projects")
    assert 'value="move:Projects"' in signed_in.get("/mail/INBOX", headers=LIST).text
    imap.logout()
