from __future__ import annotations

import re

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices


def test_keyboard_navigation_and_actions(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    for subject in ("Oldest", "Middle", "Newest"):
        imap.append(
            "INBOX", f"From: k@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n".encode()
        )
    imap.logout()
    sign_in(page, live_server, mail_user)

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("#message-list li.cursor")).to_contain_text("Middle")
    page.keyboard.press("o")
    expect(page.locator("#reader .mail-body-inline")).to_contain_text("body of Middle")

    page.keyboard.press("e")  # archive the open message
    expect(page.locator(".toast")).to_contain_text("Archived.")
    expect(page.locator("#message-list")).not_to_contain_text("Middle")

    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()
    page.keyboard.press("Escape")

    page.locator('form.search input[name="q"]').fill("jjj")  # typing is not a shortcut
    expect(page.locator("#message-list li.cursor")).to_have_count(0)
    page.locator('form.search input[name="q"]').fill("")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("c")  # the compose panel over the mail
    expect(page.locator("#compose-dock .compose-panel")).to_be_visible()
    expect(page.locator("#to")).to_be_focused()


def test_shortcuts_can_be_turned_off(page: Page, live_server: str, mail_user: MailUser) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings/keyboard")
    page.get_by_label("Keyboard shortcuts").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved.")
    page.goto(f"{live_server}/mail/INBOX")
    page.keyboard.press("c")
    page.wait_for_timeout(300)
    expect(page).to_have_url(re.compile(r"/mail/INBOX$"))
