from __future__ import annotations

import re

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from tests.e2e.test_live_updates import LIVE, wait_for_stream, watch_sse
from webmail.config import Settings
from webmail.devservices import DevServices


def test_delete_then_undo_survives_live_updates(
    page: Page, live_server: str, live_settings: Settings, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Regrettable\r\nMessage-ID: <r@x>\r\n\r\nbody\r\n")
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    page.locator(".row-link", has_text="Regrettable").click()
    # The reader's Delete: until the reader is open, the row under the pointer shows its own.
    reader = page.locator("#reader article.message")
    expect(reader).to_be_visible()
    reader.get_by_role("button", name="Delete").click()
    toast = page.locator(".toast")
    expect(toast).to_contain_text("Moved to Trash.")
    expect(page.locator("#message-list li[data-uid]")).to_have_count(0)
    # A live refresh of the list (mail from elsewhere) must not take the Undo away.
    wait_for_stream(page, live_settings, mail_user)
    imap.append("INBOX", b"From: b@example.org\r\nSubject: Meanwhile\r\n\r\nbody\r\n")
    imap.logout()
    expect(page.locator("#message-list")).to_contain_text("Meanwhile", timeout=LIVE)
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
