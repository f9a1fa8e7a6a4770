"""The settings (issue 15): a navigation of sections beside the page (on phones the list, then
the page), each section saved in place with a quiet confirmation and applied after a reload;
every section at desktop and phone size, light and dark, fits, passes axe-core and is kept as
a screenshot."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect
from redis import Redis

from tests.conftest import MailUser
from tests.e2e.conftest import SIZES, both_themes, open_screen_context, screen_problems, sign_in
from tests.e2e.test_mail_screens import imap_for
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.redis import Keys

PAGES = ["/contacts", "/compose", "/compose/outbox", "/help/clients", "/mail/INBOX/99999", "/no-such-page"]
SECTIONS = ["", "/general", "/reading", "/writing", "/keyboard", "/notifications", "/identities", "/folders",
            "/accounts", "/accounts/new", "/filters", "/vacation"]  # fmt: skip


def test_a_section_saves_in_place_and_applies_after_reload(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = imap_for(services, mail_user)
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Threaded\r\nMessage-ID: <t@x>\r\n\r\nhi\r\n")
    imap.logout()
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings")
    page.get_by_role("link", name="Reading").click()
    expect(page).to_have_url(f"{live_server}/settings/reading")
    expect(page.get_by_role("link", name="Reading")).to_have_attribute("aria-current", "page")
    page.get_by_label("Group messages into conversations").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".saved-quiet")).to_have_text("Settings saved.")
    expect(page).to_have_url(f"{live_server}/settings/reading")  # saved in place, no new page
    page.reload()
    expect(page.get_by_label("Group messages into conversations")).to_be_checked()
    expect(page.locator(".saved-quiet")).to_have_count(0)  # the confirmation is said once
    page.goto(f"{live_server}/mail/INBOX")
    expect(page.locator(".segmented a[aria-current]")).to_contain_text("Conversations")  # the default now

    # Other sections keep their values: the reading form did not switch the shortcuts off.
    page.goto(f"{live_server}/settings/general")
    page.get_by_label("Dark").check()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # shown at once
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".saved-quiet")).to_be_visible()
    page.goto(f"{live_server}/mail/INBOX")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(f"{live_server}/settings/keyboard")
    expect(page.get_by_label("Keyboard shortcuts")).to_be_checked()
    expect(page.get_by_label("Group messages into conversations")).to_have_count(0)


def test_the_reading_pane_below_or_off_is_saved_and_applied_after_reload(
    screen_page: Page, live_server: str, services: DevServices, mail_user: MailUser, output_path: str
) -> None:
    page = screen_page
    imap = imap_for(services, mail_user)
    for i in range(3):
        imap.append("INBOX", f"From: a@example.org\r\nSubject: Pane {i}\r\n\r\nbody {i}\r\n".encode())
    imap.logout()
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings/reading")
    page.get_by_label("Below the list").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".saved-quiet")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Below the list")).to_be_checked()
    page.goto(f"{live_server}/mail/INBOX")
    page.locator("#message-list .row-link").first.click()
    expect(page.locator("#reader article.message")).to_be_visible()
    listing, reader = page.locator("#message-list").bounding_box(), page.locator("#reader").bounding_box()
    assert listing
    assert reader
    assert reader["y"] >= listing["y"] + listing["height"] - 1  # under the list
    assert abs(reader["x"] - listing["x"]) < 2
    assert abs(reader["width"] - listing["width"]) < 2
    assert both_themes(page, output_path, "reading-pane-bottom-desktop") == []

    page.goto(f"{live_server}/settings/reading")
    page.get_by_label("Off", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".saved-quiet")).to_be_visible()
    page.goto(f"{live_server}/mail/INBOX")
    expect(page.locator("#reader")).to_be_hidden()
    list_width = page.locator("#message-list").bounding_box()
    assert list_width
    assert list_width["width"] > 1000  # the list has the room of both
    page.locator("#message-list .row-link").first.click()
    expect(page.locator("#reader article.message")).to_be_visible()
    expect(page.locator("#message-list")).to_be_hidden()
    assert both_themes(page, output_path, "reading-pane-off-desktop") == []
    page.locator("#reader .reader-toolbar .back").click()
    expect(page.locator("#message-list")).to_be_visible()


def test_a_refused_value_is_shown_beside_its_field(page: Page, live_server: str, mail_user: MailUser) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings/general")
    page.locator("#page_size").evaluate("box => box.removeAttribute('min')")  # past the browser's check
    page.locator("#page_size").fill("5")
    page.get_by_role("button", name="Save").click()
    field_error = page.locator("#page_size-error .field-error")
    expect(field_error).to_contain_text("Messages per page")
    expect(page.locator("#page_size")).to_have_value("5")  # the form kept what was typed
    expect(page.get_by_role("alert")).to_have_count(2)  # the summary and the field's own words, once each
    expect(page.locator(".topbar")).to_be_visible()  # inside the app's chrome


def test_phones_list_the_sections_then_show_one(
    browser: Browser, live_server: str, mail_user: MailUser
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server, mail_user)
        page.goto(f"{live_server}/settings")
        listing = page.get_by_role("navigation", name="Settings sections")
        expect(listing).to_be_visible()
        expect(page.locator(".settings-section")).to_be_hidden()
        listing.get_by_role("link", name="Writing").click()
        expect(page.get_by_role("heading", name="Writing")).to_be_visible()
        page.locator(".phone-back").click()
        expect(page).to_have_url(f"{live_server}/settings")
    finally:
        context.close()


def test_every_settings_section_fits_passes_axe_and_is_kept(
    screen_page: Page, live_server: str, live_settings: Settings, mail_user: MailUser, output_path: str
) -> None:
    page = screen_page
    problems: list[str] = []
    sign_in(page, live_server, mail_user)
    # Two identities, one with an address the submission server refused before.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
    for name, email in (("Ann Lee", mail_user.username), ("Old job", "ann@refused.invalid")):
        fields = {"csrf_token": token, "name": name, "email": email, "signature_text": f"{name}\nDesk 4",
                  "signature_html": "", "reply_to": "", "is_default": "on" if name == "Ann Lee" else ""}  # fmt: skip
        assert page.request.post(f"{live_server}/settings/identities", form=fields).ok
    for name, emails, groups in (("Ann Lee", "ann@example.org", "Team"), ("Bob Stone", "bob@example.org, b@work.example", "Team, Football"),
                                 ("Carla Díaz", "carla@example.org", "")):  # fmt: skip
        fields = {"csrf_token": token, "name": name, "emails": emails, "groups": groups, "notes": ""}
        assert page.request.post(f"{live_server}/contacts", form=fields).ok
    refused = Redis.from_url(live_settings.redis_url)
    refused.hset(Keys(live_settings.redis_prefix).refused_senders(mail_user.username), "ann@refused.invalid",
                 "5.7.1 Sender address rejected: not owned by user")  # fmt: skip
    refused.close()
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for path in [f"/settings{section}" for section in SECTIONS] + PAGES:
            page.goto(f"{live_server}{path}")
            name = path.strip("/").replace("/", "-")
            problems += both_themes(page, output_path, f"{name}-{size}", full_page=path != "/compose")
    assert problems == [], "\n".join(problems)


def test_a_folder_name_the_server_refuses_is_explained_in_place(
    browser: Browser, live_server: str, mail_user: MailUser, output_path: str
) -> None:
    context, page, _ = open_screen_context(browser)
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings/folders")
    page.get_by_label("Name", exact=True).fill("x" * 300)
    page.get_by_role("button", name="Create").click()
    error = page.locator("#new-folder-error")
    expect(error).to_have_text("The mail server refused this: “Mailbox name too long”")
    expect(page.get_by_text("Mailbox name too long")).to_have_count(1)  # said once
    expect(page.get_by_label("Name", exact=True)).to_have_value("x" * 300)
    expect(page.locator(".topbar")).to_be_visible()
    assert screen_problems(page, output_path, "folder-refused-desktop") == []
    context.close()
