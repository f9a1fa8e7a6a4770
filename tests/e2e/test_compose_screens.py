"""Compose as people use it (issue 15): inside the mail chrome, recipients as chips where Enter
confirms and never sends (also without JavaScript), chips through a saved draft, Discard with
Undo, a question before a message without a subject or text goes, the identity's signature
following the From choice; every state at desktop and phone size, light and dark, fits the width
and passes axe-core, kept as screenshots for review."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import SIZES, both_themes, sign_in
from tests.e2e.test_mail_screens import imap_for
from webmail.devservices import DevServices


def csrf(page: Page) -> str:
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    return token


def drafts_with(services: DevServices, user: MailUser, subject: str) -> list[int]:
    imap = imap_for(services, user)
    imap.select_folder("Drafts")
    found: list[int] = imap.search(["SUBJECT", subject])
    imap.logout()
    return found


def test_enter_in_a_recipient_field_confirms_it_and_never_sends(
    browser: Browser, page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/compose")
    to = page.locator("#to")
    to.type("friend@example.org")
    to.press("Enter")
    expect(page.locator(".chip")).to_have_text("friend@example.org")
    expect(to).to_have_value("")
    to.press("Enter")  # an empty field: still nothing sent
    page.locator("#subject").fill("Plans")
    page.locator("#subject").press("Enter")
    expect(page).to_have_url(f"{live_server}/compose")
    expect(page.locator('input[name="to"]')).to_have_value("friend@example.org")
    # A pasted list becomes chips; Backspace takes the last one back for editing.
    to.focus()
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.setData("text", "Ann <ann@example.org>, bob@example.org");
        document.getElementById("to").dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
    }""")
    expect(page.locator(".chip")).to_have_text(["friend@example.org", "Ann", "bob@example.org"])
    to.press("Backspace")
    expect(to).to_have_value("bob@example.org")
    expect(page.locator(".chip")).to_have_count(2)

    # Without JavaScript the form's default button is a disabled one: Enter sends nothing.
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    try:
        sign_in(plain, live_server, mail_user)
        plain.locator(".sidebar .compose-link").click()  # the mailbox's Write is the page itself
        expect(plain).to_have_url(f"{live_server}/compose")
        requests: list[str] = []
        plain.on("request", lambda request: requests.append(request.method))
        plain.locator("#to").fill("friend@example.org")
        plain.locator("#to").press("Enter")
        plain.locator("#subject").fill("No script")
        plain.locator("#subject").press("Enter")
        plain.wait_for_timeout(300)
        assert "POST" not in requests
        expect(plain.locator("#cc")).to_be_visible()  # Cc and Bcc are plain fields without script
    finally:
        context.close()


def test_chips_come_back_from_a_saved_draft(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/compose")
    page.locator("#to").type("Ann Lee <ann@example.org>")
    page.locator("#to").press("Enter")
    page.locator("#to").type("bob@example.org")
    page.get_by_role("button", name="Cc", exact=True).click()
    page.locator("#cc").type("carol@example.org,")
    page.locator("#subject").fill("Chips round trip")
    page.locator("#body").fill("See you.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#draft-status")).to_contain_text("Draft saved", timeout=20_000)
    [uid] = drafts_with(services, mail_user, "Chips round trip")

    page.goto(f"{live_server}/compose?draft=Drafts/{uid}")
    expect(page.locator(".recipients-row").first.locator(".chip")).to_have_text(
        ["Ann Lee", "bob@example.org"]
    )
    expect(page.locator("#cc-row")).to_be_visible()  # opened by itself: the draft has a Cc
    expect(page.locator("#cc-row .chip")).to_have_text("carol@example.org")
    expect(page.locator("#bcc-row")).to_be_hidden()
    expect(page.locator('input[name="to"]')).to_have_value("Ann Lee <ann@example.org>, bob@example.org")


def test_discard_then_undo_brings_the_message_back(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/compose")
    page.locator("#to").type("ann@example.org")
    page.locator("#subject").fill("Second thoughts")
    page.locator("#body").fill("Maybe not.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#draft-status")).to_contain_text("Draft saved", timeout=20_000)
    assert len(drafts_with(services, mail_user, "Second thoughts")) == 1

    page.get_by_role("button", name="Discard").click()
    toast = page.locator(".toast")
    expect(toast).to_contain_text("Message discarded.")
    assert drafts_with(services, mail_user, "Second thoughts") == []
    toast.get_by_role("button", name="Undo").click()
    expect(page.locator(".compose-notice")).to_contain_text("The message is back.")
    expect(page.locator("#subject")).to_have_value("Second thoughts")
    expect(page.locator("#body")).to_have_value("Maybe not.")
    expect(page.locator(".chip")).to_have_text("ann@example.org")


def test_a_message_without_text_asks_before_it_goes(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    friend = MailUser(services.dovecot.new_user("pw-empty"), "pw-empty")
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/compose")
    page.locator("#to").type(friend.username)
    page.locator("#subject").fill("Only a subject")
    page.get_by_role("button", name="Send", exact=True).click()
    warning = page.locator("#empty-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("This message has no text. Send it anyway?")
    expect(page).to_have_url(f"{live_server}/compose")
    page.get_by_role("button", name="Keep writing").click()
    expect(warning).to_be_hidden()
    expect(page.locator("#body")).to_be_focused()
    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_role("button", name="Send anyway").click()
    expect(page.locator(".toast")).to_contain_text("Message sent.")


def test_the_from_choice_brings_its_signature(page: Page, live_server: str, mail_user: MailUser) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings/identities")
    for name, signature, default in (("Work", "Ann, Work Ltd", "on"), ("Home", "Ann at home", "")):
        fields = {"csrf_token": csrf(page), "name": name, "email": mail_user.username,
                  "signature_text": signature, "signature_html": "", "reply_to": ""}  # fmt: skip
        if default:
            fields["is_default"] = default
        assert page.request.post(f"{live_server}/settings/identities", form=fields).ok
    page.goto(f"{live_server}/compose")
    body = page.locator("#body")
    expect(body).to_have_value("\n\n-- \nAnn, Work Ltd")
    body.press("Control+Home")
    body.type("Hello")
    page.locator("#identity").select_option(label=f"Home <{mail_user.username}>")
    expect(body).to_have_value("Hello\n\n-- \nAnn at home")


def test_compose_fits_passes_axe_and_is_kept(
    screen_page: Page, live_server: str, mail_user: MailUser, output_path: str, tmp_path: Path
) -> None:
    (tmp_path / "minutes.pdf").write_bytes(b"%PDF-1.4 minutes")
    page = screen_page
    problems: list[str] = []
    sign_in(page, live_server, mail_user)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server}/compose")
        problems += both_themes(page, output_path, f"compose-{size}")
        page.locator("#to").type("Ann Lee <ann@example.org>, not an address,")
        page.get_by_role("button", name="Cc", exact=True).click()
        page.locator("#cc").type("bo")
        page.locator("#subject").fill("Minutes of the meeting")
        page.locator("#attachments").set_input_files(str(tmp_path / "minutes.pdf"))
        expect(page.locator("#attachment-list")).to_contain_text("minutes.pdf")
        page.get_by_role("button", name="Send", exact=True).click()
        problems += both_themes(page, output_path, f"compose-filled-{size}")
        page.locator(".send-later-menu > summary").click()
        problems += both_themes(page, output_path, f"compose-send-later-{size}")
    assert problems == [], "\n".join(problems)
