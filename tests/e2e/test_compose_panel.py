"""Compose without leaving the mail (issue 15): on the mailbox a compose link opens the form in a
panel over the list (full screen on a phone) that can be minimised while other mail is read,
keeps what is typed, and sends in place; a reply opens under the message and pops out to the
/compose page. Each state at desktop and phone size, light and dark, fits, passes axe-core and
is kept as a screenshot. One signed-in browser context serves the module."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import both_themes, every_look, open_screen_context, sign_in
from tests.e2e.test_mail_screens import imap_for
from tests.integration.test_compose import inbox_of
from webmail.devservices import DevServices


@pytest.fixture(scope="module")
def reader(services: DevServices) -> MailUser:
    """A user with a few messages to read and answer."""
    user = MailUser(services.dovecot.new_user("pw-panel"), "pw-panel")
    imap = imap_for(services, user)
    for i, (sender, subject) in enumerate(
        [
            ("Ann Lee <ann@example.org>", "Minutes of Monday"),
            ("Bob <bob@example.org>", "Lunch on Friday?"),
            ("Carol <carol@example.org>", "The quarterly report"),
        ]  # fmt: skip
    ):
        body = f"Hello,\r\n\r\nmessage {i} with a few lines of text to read.\r\n\r\nRegards\r\n"
        imap.append("INBOX", f"From: {sender}\r\nTo: {user.username}\r\nSubject: {subject}\r\n"
                             f"Message-ID: <p{i}@example.org>\r\n\r\n{body}".encode())  # fmt: skip
    imap.logout()
    return user


@pytest.fixture(scope="module")
def mail_page(browser: Browser, live_server: str, reader: MailUser) -> Iterator[Page]:
    context, page, errors = open_screen_context(browser)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, reader)
    yield page
    context.close()
    assert errors == []


@pytest.fixture
def inbox(mail_page: Page, live_server: str) -> Page:
    """The Inbox at desktop size, light, with nothing kept in the browser from the test before."""
    mail_page.set_viewport_size({"width": 1440, "height": 900})
    mail_page.emulate_media(color_scheme="light")
    mail_page.goto(f"{live_server}/mail/INBOX")
    mail_page.evaluate("localStorage.clear()")
    expect(mail_page.locator("#message-list")).to_be_visible()
    return mail_page


def open_message(page: Page, subject: str) -> None:
    page.locator("#message-list .row-link", has_text=subject).click()
    expect(page.locator("#reader h1.subject")).to_contain_text(subject)


def test_the_panel_minimises_while_reading_keeps_the_text_and_sends_in_place(
    inbox: Page, live_server: str, services: DevServices, output_path: str
) -> None:
    page = inbox
    friend = MailUser(services.dovecot.new_user("pw-friend"), "pw-friend")
    page.locator(".sidebar .compose-link").click()
    panel = page.locator("#compose-dock .compose-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#to")).to_be_focused()
    expect(page).to_have_url(f"{live_server}/mail/INBOX")  # the mail stays where it was
    page.locator("#to").type(f"{friend.username},")
    page.locator("#subject").fill("Panel notes")
    page.locator("#body").fill("Typed in the panel.")
    assert every_look(page, output_path, "compose-panel") == []
    page.set_viewport_size({"width": 1440, "height": 900})

    page.get_by_role("button", name="Minimise").click()
    expect(page.locator("#compose-dock")).to_have_class(re.compile(r"\bminimised\b"))
    expect(page.locator("#body")).to_be_hidden()
    expect(panel.locator("#compose-title")).to_have_text("Panel notes")
    open_message(page, "Lunch on Friday?")
    page.locator('#folder-list a[data-folder="INBOX"]').click()  # boosted: htmx swaps the page's body
    expect(page.locator("#reader article.message")).to_have_count(0)
    expect(panel).to_be_visible()  # kept through the swap
    open_message(page, "Minutes of Monday")
    assert every_look(page, output_path, "compose-minimised") == []
    page.set_viewport_size({"width": 1440, "height": 900})

    panel.locator(".compose-head").click()  # the bar brings it back, as it was
    expect(page.locator("#body")).to_have_value("Typed in the panel.")
    expect(page.locator("#to-row, .recipients-row").first.locator(".chip")).to_have_text(friend.username)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".toast")).to_contain_text("Message sent.")
    expect(panel).to_have_count(0)
    expect(page.locator("#reader h1.subject")).to_contain_text("Minutes of Monday")  # still reading
    assert any(b"Typed in the panel." in raw for raw in inbox_of(services, friend))


def test_a_reply_opens_under_the_message_follows_to_the_dock_and_pops_out(
    inbox: Page, live_server: str, output_path: str
) -> None:
    page = inbox
    open_message(page, "Lunch on Friday?")
    page.locator("#reader .reply-main").click()
    reply = page.locator("#reader #inline-compose .compose-panel")
    expect(reply).to_be_visible()
    expect(reply.locator(".chip")).to_have_text("Bob")
    expect(page.locator("#body")).to_be_focused()
    page.keyboard.type("Friday suits me.")
    assert both_themes(page, output_path, "reply-inline-desktop") == []

    # Reading another message: the reply waits in the dock, minimised, with its text.
    open_message(page, "The quarterly report")
    expect(page.locator("#inline-compose")).to_have_count(0)
    expect(page.locator("#compose-dock")).to_have_class(re.compile(r"\bminimised\b"))
    page.locator("#compose-dock .compose-head").click()
    expect(page.locator("#body")).to_have_value(re.compile(r"^Friday suits me\."))

    page.get_by_role("button", name="Open as a page").click()
    expect(page).to_have_url(re.compile(r"/compose\?draft_id="))
    expect(page.locator("#body")).to_have_value(re.compile(r"^Friday suits me\."))
    expect(page.locator(".chip")).to_have_text("Bob")
    expect(page.locator("#compose-dock")).to_have_count(0)  # the page of its own


def test_discard_in_the_panel_then_undo_brings_it_back_there(inbox: Page) -> None:
    page = inbox
    page.locator(".sidebar .compose-link").click()
    page.locator("#to").type("ann@example.org,")
    page.locator("#subject").fill("Second thoughts in the panel")
    page.locator("#body").fill("Maybe not.")
    page.locator("#compose-dock").get_by_role("button", name="Discard").click()
    toast = page.locator(".toast")
    expect(toast).to_contain_text("Message discarded.")
    expect(page.locator("#compose-dock .compose-panel")).to_have_count(0)
    toast.get_by_role("button", name="Undo").click()
    expect(page.locator("#compose-dock .compose-notice")).to_contain_text("The message is back.")
    expect(page.locator("#subject")).to_have_value("Second thoughts in the panel")
    expect(page.locator("#body")).to_have_value("Maybe not.")
    page.locator("#compose-dock .compose-close").click()
    expect(page.locator("#compose-dock .compose-panel")).to_have_count(0)


def test_on_a_phone_the_panel_is_the_whole_page_until_minimised(inbox: Page) -> None:
    page = inbox
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator(".fab").click()
    panel = page.locator("#compose-dock .compose-panel")
    expect(panel).to_be_visible()
    assert panel.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
    expect(page.locator("body > .shell")).to_have_attribute("inert", "")  # the list behind is out of reach
    page.get_by_role("button", name="Minimise").click()
    expect(page.locator("body > .shell")).not_to_have_attribute("inert", "")
    expect(page.locator("#message-list")).to_be_visible()
    page.locator("#compose-dock .compose-close").click()
    expect(panel).to_have_count(0)
