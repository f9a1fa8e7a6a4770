from __future__ import annotations

import re

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from webmail.devservices import DevServices


def seed(services: DevServices, user: MailUser) -> None:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    for i in range(4):
        client.append(
            "INBOX", f"Subject: hi {i}\r\n\r\nbody\r\n".encode(), flags=[b"\\Seen"] if i == 0 else []
        )
    client.append("Archive", b"Subject: old\r\n\r\nbody\r\n", flags=[b"\\Seen"])
    client.logout()


def sign_in(page: Page, live_server: str, user: MailUser) -> None:
    page.goto(f"{live_server}/mail/INBOX")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Email address or user name").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/mail/INBOX$"))


def test_sign_in_shows_folder_pane_with_counts(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    seed(services, mail_user)
    sign_in(page, live_server, mail_user)

    folders = page.locator("#folder-list a[data-folder]")
    expect(folders.first).to_have_attribute("data-folder", "INBOX")
    expect(folders).to_have_count(6)
    inbox = page.locator('a[data-folder="INBOX"]')
    expect(inbox.locator(".unread")).to_have_text("3")
    expect(inbox.locator(".total")).to_have_text("4")
    expect(page.locator('[data-count="messages"]')).to_have_text("4")
    expect(page.locator("#message-list li[data-uid]")).to_have_count(4)
    expect(page.locator(".topbar .user")).to_have_text(mail_user.username)

    # htmx (boosted links) switches folders without a full reload and keeps the URL right.
    page.locator('a[data-folder="Archive"]').click()
    expect(page).to_have_url(re.compile(r"/mail/Archive$"))
    expect(page.locator(".folder-title")).to_contain_text("Archive")
    expect(page.locator('[data-count="messages"]')).to_have_text("1")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


def test_wrong_password_shows_message(page: Page, live_server: str, mail_user: MailUser) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address or user name").fill(mail_user.username)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Email address or user name")).to_have_value(mail_user.username)


def test_sign_out(page: Page, live_server: str, mail_user: MailUser) -> None:
    sign_in(page, live_server, mail_user)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{live_server}/mail/INBOX")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_phone_width(page: Page, live_server: str, mail_user: MailUser) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, live_server, mail_user)
    page.get_by_role("link", name="Folders").click()  # a drawer on phones (issue 14)
    expect(page.locator('a[data-folder="INBOX"]')).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
