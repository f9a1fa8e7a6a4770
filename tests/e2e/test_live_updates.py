from __future__ import annotations

import re
import time

import redis
from imapclient import IMAPClient
from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import other_client, sign_in
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.redis import Keys

LIVE = 5_000  # ms: changes made elsewhere must show within 5 seconds


def wait_for_stream(page: Page, settings: Settings, user: MailUser) -> None:
    """Events are delivered once the SSE connection is open (htmx fired htmx:sseOpen) and the
    user's watcher has taken its first view of the mailbox: mail appended before that view is
    part of it, not news."""
    page.wait_for_function("() => window.__sseOpen === true", timeout=LIVE)
    state = Keys(settings.redis_prefix).mailbox_state(user.username)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        deadline = time.monotonic() + LIVE / 1000
        while not client.exists(state):
            assert time.monotonic() < deadline, "the watcher took no view of the mailbox"
            time.sleep(0.05)
    finally:
        client.close()


def watch_sse(page: Page) -> None:
    page.add_init_script("document.addEventListener('htmx:sseOpen', () => { window.__sseOpen = true; });")


def test_new_mail_and_flags_from_elsewhere_appear(
    page: Page, live_server: str, live_settings: Settings, services: DevServices, mail_user: MailUser
) -> None:
    imap = other_client(services, mail_user)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Already here\r\n\r\nbody\r\n", flags=[b"\\Seen"])
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    wait_for_stream(page, live_settings, mail_user)
    expect(page.locator("#message-list li[data-uid]")).to_have_count(1)

    response = imap.append(
        "INBOX", b"From: Live <live@example.org>\r\nSubject: Arrived live\r\n\r\nhello\r\n"
    )
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", response).group(1))  # type: ignore[union-attr]
    row = page.locator(f'#message-list li[data-uid="{uid}"]')
    expect(row).to_contain_text("Arrived live", timeout=LIVE)
    expect(row).to_have_class(re.compile(r"\bunseen\b"))
    expect(page.locator('a[data-folder="INBOX"] .unread')).to_have_text("1", timeout=LIVE)
    expect(page).to_have_title(re.compile(r"^\(1\) "), timeout=LIVE)

    imap.select_folder("INBOX")
    imap.add_flags([uid], [b"\\Flagged", b"\\Seen"])
    expect(row).to_have_class(re.compile(r"\bflagged\b"), timeout=LIVE)
    expect(row).not_to_have_class(re.compile(r"\bunseen\b"), timeout=LIVE)

    imap.delete_messages([uid])
    imap.expunge()
    expect(row).to_have_count(0, timeout=LIVE)
    imap.logout()


def test_two_browsers_both_get_the_event(
    browser: Browser, live_server: str, live_settings: Settings, services: DevServices, mail_user: MailUser
) -> None:
    pages = []
    contexts = [browser.new_context(), browser.new_context()]
    try:
        for context in contexts:
            page = context.new_page()
            watch_sse(page)
            sign_in(page, live_server, mail_user)
            wait_for_stream(page, live_settings, mail_user)
            pages.append(page)
        imap = other_client(services, mail_user)
        imap.append("INBOX", b"From: both@example.org\r\nSubject: For both tabs\r\n\r\nhi\r\n")
        imap.logout()
        for page in pages:
            expect(page.locator("#message-list")).to_contain_text("For both tabs", timeout=LIVE)
    finally:
        for context in contexts:
            context.close()


def test_signing_out_in_one_tab_sends_the_others_to_sign_in(
    browser: Browser, live_server: str, live_settings: Settings, mail_user: MailUser
) -> None:
    context = browser.new_context()
    try:
        mailbox = context.new_page()
        watch_sse(mailbox)
        sign_in(mailbox, live_server, mail_user)
        wait_for_stream(mailbox, live_settings, mail_user)
        settings = context.new_page()  # a page with a stream but no element listening for "expired"
        watch_sse(settings)
        settings.goto(f"{live_server}/settings/accounts")
        wait_for_stream(settings, live_settings, mail_user)
        other_mailbox = context.new_page()
        watch_sse(other_mailbox)
        other_mailbox.goto(f"{live_server}/mail/INBOX")
        wait_for_stream(other_mailbox, live_settings, mail_user)

        mailbox.get_by_role("button", name="Sign out").click()
        expect(mailbox).to_have_url(re.compile(r"/login$"))
        expect(settings).to_have_url(re.compile(r"/login$"), timeout=LIVE)
        expect(other_mailbox).to_have_url(re.compile(r"/login$"), timeout=LIVE)
    finally:
        context.close()


def test_new_mail_raises_a_desktop_notification(
    page: Page, live_server: str, live_settings: Settings, services: DevServices, mail_user: MailUser
) -> None:
    page.add_init_script(
        """
        window.__notified = [];
        window.Notification = class {
          static permission = "granted";
          constructor(title, options) { window.__notified.push([title, options.body]); }
        };
        """
    )
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    wait_for_stream(page, live_settings, mail_user)
    imap = other_client(services, mail_user)
    imap.append("INBOX", b"From: Nora <nora@example.org>\r\nSubject: Ping <b>you</b>\r\n\r\nhi\r\n")
    imap.logout()
    page.wait_for_function("() => window.__notified.length > 0", timeout=LIVE)
    assert page.evaluate("window.__notified") == [["Nora", "Ping <b>you</b>"]]


def test_a_live_update_keeps_the_list_as_the_user_sorted_it(
    page: Page, live_server: str, live_settings: Settings, imap: IMAPClient, mail_user: MailUser
) -> None:
    """The list sorted through htmx (no page load) is refreshed as it is shown, not as the page
    loaded: new mail goes where the sort puts it."""
    for subject in ("Bravo", "Alpha", "Charlie"):
        imap.append(
            "INBOX", f"From: a@example.org\r\nSubject: {subject}\r\n\r\nx\r\n".encode(), flags=[b"\\Seen"]
        )
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    wait_for_stream(page, live_settings, mail_user)
    subjects = page.locator("#message-list li.msg .subject")
    expect(subjects).to_have_text(["Charlie", "Alpha", "Bravo"])
    page.locator(".list-toolbar .sort > summary").click()
    page.locator(".list-toolbar .sort .menu-panel").get_by_role("listitem").filter(has_text="Subject").click()
    expect(page).to_have_url(f"{live_server}/mail/INBOX?sort=subject")
    expect(subjects).to_have_text(["Alpha", "Bravo", "Charlie"])
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Delta\r\n\r\nx\r\n", flags=[b"\\Seen"])
    expect(subjects).to_have_text(["Alpha", "Bravo", "Charlie", "Delta"], timeout=LIVE)
    expect(page).to_have_url(f"{live_server}/mail/INBOX?sort=subject")


def test_the_folder_counts_stay_live_after_opening_a_message(
    page: Page, live_server: str, live_settings: Settings, imap: IMAPClient, mail_user: MailUser
) -> None:
    """Opening an unread message updates the folder counts in the same answer, and nothing else
    of the pane (its folder toggle stays); the pane still follows the mailbox afterwards."""
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Read me\r\n\r\nx\r\n")
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    wait_for_stream(page, live_settings, mail_user)
    unread = page.locator('#folder-list a[data-folder="INBOX"] .unread')
    expect(unread).to_have_text("1")
    page.evaluate(
        """document.addEventListener("htmx:oobAfterSwap", () => {
             window.__paneAfterOob = Array.from(document.querySelectorAll("#folder-list .folder-toggle a"),
                                                (link) => link.textContent.trim());
           })"""
    )
    page.locator("#message-list li.msg", has_text="Read me").locator("a").first.click()
    expect(page.locator("#reader article.message")).to_contain_text("Read me")
    expect(unread).to_have_count(0)
    # Read as htmx finished the answer's out-of-band swaps, before any live refresh of the pane.
    assert page.evaluate("window.__paneAfterOob") == ["Show all folders"]
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Then this\r\n\r\nx\r\n")
    expect(unread).to_have_text("1", timeout=LIVE)
