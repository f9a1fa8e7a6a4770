from __future__ import annotations

from email import message_from_bytes, policy

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices


def test_formatted_message_with_bold_and_a_list(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    friend = MailUser(services.dovecot.new_user("pw-fmt"), "pw-fmt")
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/compose")
    page.locator("#to").fill(friend.username)
    page.locator("#subject").fill("Formatted hello")
    page.locator("#body").fill("First line")
    page.get_by_label("Formatted").check()
    editor = page.locator("#html-editor")
    expect(editor).to_be_visible()
    expect(editor).to_contain_text("First line")  # the text came along
    editor.click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.get_by_title("Bold").click()
    page.keyboard.type("Strong words")
    page.get_by_title("Bold").click()
    page.keyboard.press("Enter")
    page.get_by_title("Bulleted list").click()
    page.keyboard.type("an item")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".toast")).to_contain_text("Message sent.")

    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(friend.username, friend.password)
    imap.select_folder("INBOX")
    raw = next(iter(imap.fetch(imap.search(["ALL"]), ["BODY.PEEK[]"]).values()))[b"BODY[]"]
    imap.logout()
    message = message_from_bytes(raw, policy=policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<b>Strong words</b>" in html
    assert "<li>an item</li>" in html
    assert "First line" in plain
    assert "- an item" in plain


def test_recipient_suggestions_from_the_address_book(
    page: Page, live_server: str, mail_user: MailUser
) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/contacts")
    page.locator("#new-name").fill("Jane Doe")
    page.locator("#new-emails").fill("jane@example.org")
    page.locator("#new-groups").fill("Team")
    page.get_by_role("button", name="Add", exact=True).click()
    page.locator("#new-name").fill("Jim Beam")
    page.locator("#new-emails").fill("jim@example.org")
    page.locator("#new-groups").fill("Team")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".contact-list")).to_contain_text("Jim Beam")

    page.goto(f"{live_server}/compose")
    page.locator("#to").type("jan")
    expect(page.locator("#to-suggestions")).to_contain_text("Jane Doe <jane@example.org>")
    page.keyboard.press("Enter")  # takes the suggestion as a chip
    expect(page.locator('input[name="to"]')).to_have_value("Jane Doe <jane@example.org>")
    expect(page.locator("#cc-row")).to_be_hidden()  # Cc is behind its link until wanted
    page.get_by_role("button", name="Cc", exact=True).click()
    page.locator("#cc").type("tea")
    expect(page.locator("#cc-suggestions li").first).to_contain_text("Group: Team (2)")
    page.keyboard.press("Tab")
    expect(page.locator('input[name="cc"]')).to_have_value(
        "Jane Doe <jane@example.org>, Jim Beam <jim@example.org>"
    )
    expect(page.locator("#cc-row .chip")).to_have_text(["Jane Doe", "Jim Beam"])


def test_bad_addresses_are_marked_before_sending(page: Page, live_server: str, mail_user: MailUser) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/compose")
    page.locator("#to").fill('"Doe, Jane" <jane@example.org>, not an address')
    page.locator("#subject").click()
    chips = page.locator("#to").locator("xpath=..").locator(".chip")
    expect(chips).to_have_count(2)
    expect(chips.nth(0)).not_to_have_class("chip invalid")
    expect(chips.nth(1)).to_have_class("chip invalid")
    expect(chips.nth(1)).to_have_attribute("title", "Not a valid address: not an address")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(f"{live_server}/compose")  # the browser held it back
    page.get_by_role("button", name="Remove not an address").click()
    expect(page.locator(".chip.invalid")).to_have_count(0)
    expect(page.locator('input[name="to"]')).to_have_value('"Doe, Jane" <jane@example.org>')
