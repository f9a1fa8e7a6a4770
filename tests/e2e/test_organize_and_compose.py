from __future__ import annotations

import re

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices


def test_delete_then_undo_survives_live_updates(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Regrettable\r\nMessage-ID: <r@x>\r\n\r\nbody\r\n")
    imap.logout()
    sign_in(page, live_server, mail_user)
    page.locator(".row-link", has_text="Regrettable").click()
    page.get_by_role("button", name="Delete").click()
    toast = page.locator(".toast")
    expect(toast).to_contain_text("Moved to Trash.")
    expect(page.locator("#message-list li[data-uid]")).to_have_count(0)
    page.wait_for_timeout(2500)  # a live refresh of the list must not take the Undo away
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Undo").click()
    expect(page.locator("#message-list")).to_contain_text("Regrettable")


def test_reply_and_send(page: Page, live_server: str, services: DevServices, mail_user: MailUser) -> None:
    friend = MailUser(services.dovecot.new_user("pw-e2e"), "pw-e2e")
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append(
        "INBOX",
        f"From: Friend <{friend.username}>\r\nSubject: Lunch?\r\nMessage-ID: <l@x>\r\n\r\nNoon?\r\n".encode(),
    )
    imap.logout()
    sign_in(page, live_server, mail_user)
    page.locator(".row-link", has_text="Lunch?").click()
    page.get_by_role("link", name="Reply", exact=True).click()
    expect(page.locator("#subject")).to_have_value("Re: Lunch?")
    expect(page.locator("#body")).to_have_value(re.compile(r"> Noon\?"))
    page.locator("#body").press("Control+Home")
    page.locator("#body").type("Sounds good.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".toast")).to_contain_text("Message sent.")
    other = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    other.login(friend.username, friend.password)
    other.select_folder("INBOX")
    assert len(other.search(["SUBJECT", "Re: Lunch?"])) == 1
    other.logout()
