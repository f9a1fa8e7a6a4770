from __future__ import annotations

import re

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices


def test_search_type_stream_bookmark_reload(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Quarterly needle\r\n\r\nbody\r\n")
    imap.append("INBOX", b"From: b@example.org\r\nSubject: Lunch\r\n\r\nbody\r\n")
    for folder in ("Archive", "Sent", "Trash"):
        imap.append(
            folder, f"From: c@example.org\r\nSubject: Old needle in {folder}\r\n\r\nbody\r\n".encode()
        )
    imap.logout()
    sign_in(page, live_server, mail_user)

    page.keyboard.press("/")
    box = page.locator('form.search input[name="q"]')
    expect(box).to_be_focused()
    box.fill("needle")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/mail/INBOX\?q=needle"))
    rows = page.locator("#message-list li[data-uid]")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("mark")).to_have_text("needle")

    page.reload()  # the URL is the bookmark
    expect(page.locator("#message-list li[data-uid]")).to_have_count(1)
    expect(page.locator('form.search input[name="q"]')).to_have_value("needle")

    page.get_by_role("link", name="search all folders").click()
    results = page.locator("#search-results li.search-hit")
    expect(results).to_have_count(4, timeout=10_000)
    expect(page.locator("#search-status")).to_contain_text("4 found")
    folders = sorted(results.locator(".hit-folder").all_inner_texts())
    assert folders == ["Archive", "Inbox", "Sent", "Trash"]
