"""The list's rows carry no forms (issue 16): the star and the quick actions still work, with
JavaScript through the shared forms app.js drives, and without it through plain form posts."""

from __future__ import annotations

from imapclient import IMAPClient
from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices


def fill(services: DevServices, user: MailUser, *subjects: str) -> IMAPClient:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    for subject in subjects:
        imap.append(
            "INBOX", f"From: a@example.org\r\nSubject: {subject}\r\n\r\nx\r\n".encode(), flags=[b"\\Seen"]
        )
    return imap


def test_star_and_quick_actions_of_a_row(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = fill(services, mail_user, "Keep me", "Star me", "Archive me")
    sign_in(page, live_server, mail_user)
    starred = page.locator("#message-list li.msg", has_text="Star me")
    starred.hover()
    starred.get_by_role("button", name="Star").click()
    expect(starred.get_by_role("button", name="Remove the star")).to_have_attribute("aria-pressed", "true")
    expect(page).to_have_url(f"{live_server}/mail/INBOX")  # no page load, no history entry
    imap.select_folder("INBOX")
    assert [
        b"\\Flagged" in flags for flags in imap.get_flags(imap.search(["SUBJECT", "Star me"])).values()
    ] == [True]
    row = page.locator("#message-list li.msg", has_text="Archive me")
    row.hover()
    row.get_by_role("button", name="Mark as unread").click()
    expect(page.locator("#message-list li.msg.unseen", has_text="Archive me")).to_have_count(1)
    row.hover()
    row.get_by_role("button", name="Archive").click()
    expect(page.locator(".toast")).to_contain_text("moved to Archive")
    expect(page.locator("#message-list li.msg", has_text="Archive me")).to_have_count(0)
    expect(page.locator("#message-list li.msg", has_text="Keep me")).to_have_count(1)
    imap.select_folder("Archive", readonly=True)
    assert imap.search(["SUBJECT", "Archive me"])
    imap.logout()


def test_without_javascript_the_star_is_a_form_post(
    browser: Browser, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = fill(services, mail_user, "Plain star")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, mail_user)
    page.locator("#message-list li.msg", has_text="Plain star").get_by_role("button", name="Star").click()
    expect(page.locator("#message-list li.msg.flagged", has_text="Plain star")).to_have_count(1)
    imap.select_folder("INBOX")
    assert all(b"\\Flagged" in flags for flags in imap.get_flags(imap.search(["ALL"])).values())
    context.close()
    imap.logout()
