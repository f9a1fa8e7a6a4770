"""Drag and drop, keyboard selection and the folder picker, optimistic rows, and a second browser."""

from __future__ import annotations

from imapclient import IMAPClient
from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from tests.e2e.test_live_updates import LIVE, wait_for_stream, watch_sse
from webmail.config import Settings
from webmail.devservices import DevServices


def seed(services: DevServices, user: MailUser, *subjects: str) -> IMAPClient:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    for subject in subjects:
        imap.append("INBOX", f"From: o@example.org\r\nSubject: {subject}\r\n\r\nbody\r\n".encode())
    return imap


def row(page: Page, subject: str):  # type: ignore[no-untyped-def]
    return page.locator("#message-list li[data-uid]", has_text=subject)


def test_drag_a_row_onto_a_folder_and_a_second_browser_sees_it(
    browser: Browser,
    page: Page,
    live_server: str,
    live_settings: Settings,
    services: DevServices,
    mail_user: MailUser,
) -> None:
    imap = seed(services, mail_user, "Drag me", "Stay here")
    other = browser.new_page()
    watch_sse(other)
    sign_in(other, live_server, mail_user)
    wait_for_stream(other, live_settings, mail_user)
    expect(row(other, "Drag me")).to_have_count(1)

    sign_in(page, live_server, mail_user)
    row(page, "Drag me").drag_to(page.locator('#folder-list a[data-folder="Archive"]'))
    expect(page.locator(".toast")).to_contain_text("1 message moved to Archive")
    expect(row(page, "Drag me")).to_have_count(0)
    expect(row(other, "Drag me")).to_have_count(0, timeout=LIVE)  # the other browser, live
    expect(row(other, "Stay here")).to_have_count(1)
    imap.select_folder("Archive", readonly=True)
    assert len(imap.search(["SUBJECT", "Drag me"])) == 1

    page.get_by_role("button", name="Undo").click()
    expect(row(page, "Drag me")).to_have_count(1)
    expect(row(other, "Drag me")).to_have_count(1, timeout=LIVE)
    other.close()
    imap.logout()


def test_keyboard_selection_delete_and_folder_picker(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = seed(services, mail_user, "First", "Second", "Third")
    imap.create_folder("Projects/Garden")
    imap.subscribe_folder("Projects/Garden")
    sign_in(page, live_server, mail_user)
    page.locator("#select-page").check()
    expect(page.locator("#message-list input.select:checked")).to_have_count(3)
    page.locator("#select-page").uncheck()
    expect(page.locator("#message-list input.select:checked")).to_have_count(0)
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#message-list input.select:checked")).to_have_count(2)
    page.keyboard.press("#")
    expect(page.locator(".toast")).to_contain_text("2 messages moved to Trash")
    expect(page.locator("#message-list li[data-uid]")).to_have_count(1)

    page.keyboard.press("j")
    page.keyboard.press("m")
    expect(page.locator("#folder-picker")).to_be_visible()
    page.keyboard.type("gard")  # type-ahead: the one folder whose name contains it
    page.keyboard.press("Enter")
    expect(page.locator(".toast")).to_contain_text("moved to Garden")
    imap.select_folder("Projects/Garden", readonly=True)
    assert len(imap.search(["ALL"])) == 1
    imap.logout()


def test_a_refused_move_brings_the_rows_back_with_the_reason(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = seed(services, mail_user, "Precious")
    imap.create_folder("Vanishing")
    imap.subscribe_folder("Vanishing")
    sign_in(page, live_server, mail_user)
    expect(page.locator('#folder-list a[data-folder="Vanishing"]')).to_be_visible()
    imap.delete_folder("Vanishing")  # gone behind the page's back
    row(page, "Precious").drag_to(page.locator('#folder-list a[data-folder="Vanishing"]'))
    expect(page.locator("#flash")).to_contain_text("There is no folder called “Vanishing”")
    expect(row(page, "Precious")).to_be_visible()
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search(["ALL"])) == 1
    imap.logout()
