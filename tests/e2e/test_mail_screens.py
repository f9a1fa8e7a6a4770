"""The mail screens as people see them (issue 14): every screen at desktop and phone size, light and
dark, fits the width, passes axe-core without serious findings, and is kept as a screenshot for
review (under pytest-playwright's output folder, test-results/ by default); selection and the
cursor survive live mail; select-all under a search acts on the results."""

from __future__ import annotations

import re
from collections.abc import Callable

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import SIZES, both_themes, sign_in
from tests.e2e.test_live_updates import LIVE, wait_for_stream, watch_sse
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.devservices.seed import seed_user


def imap_for(services: DevServices, user: MailUser) -> IMAPClient:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    return client


def open_first(page: Page, selector: str) -> None:
    page.locator(f"#message-list {selector} .row-link").first.click()
    expect(page.locator("#reader article.message")).to_be_visible()


def tick_three(page: Page) -> None:
    for index in range(3):
        page.locator("#message-list li[data-uid] .pick").nth(index).click()
    expect(page.locator(".selected-count")).to_have_text("3 selected")


def screens(live_server: str) -> dict[str, Callable[[Page], None]]:
    inbox = f"{live_server}/mail/INBOX"

    def go(url: str, then: Callable[[Page], None] | None = None) -> Callable[[Page], None]:
        def show(page: Page) -> None:
            page.goto(url)
            expect(page.locator("#message-list")).to_be_visible()
            if then is not None:
                then(page)

        return show

    return {
        "list": go(inbox),
        "search": go(f"{inbox}?q=newsletter"),
        "conversations": go(f"{inbox}?view=threads"),
        "reader-plain": go(f"{inbox}?q=subject%3Areview", lambda page: open_first(page, "li[data-uid]")),
        "reader-html": go(f"{inbox}?q=newsletter", lambda page: open_first(page, "li[data-uid]")),
        "conversation-reader": go(f"{inbox}?view=threads", lambda page: open_first(page, "li.thread")),
        "selection": go(inbox, tick_three),
    }


def test_every_mail_screen_fits_passes_axe_and_is_kept(
    screen_page: Page, live_server: str, services: DevServices, mail_user: MailUser, output_path: str
) -> None:
    imap = imap_for(services, mail_user)
    seed_user(imap, ("Demo User", mail_user.username), count=60, seed=5)
    imap.logout()
    page = screen_page
    problems: list[str] = []
    sign_in(page, live_server, mail_user)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, show in screens(live_server).items():
            show(page)
            page.wait_for_timeout(150)  # the mail frame sizes itself
            problems += both_themes(page, output_path, f"{name}-{size}")
    assert problems == [], "\n".join(problems)


def test_live_mail_keeps_ticked_rows_and_the_cursor(
    page: Page, live_server: str, live_settings: Settings, services: DevServices, mail_user: MailUser
) -> None:
    imap = imap_for(services, mail_user)
    for i in range(5):
        imap.append("INBOX", f"From: k@example.org\r\nSubject: Older {i}\r\n\r\nbody {i}\r\n".encode())
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    wait_for_stream(page, live_settings, mail_user)
    page.locator("body").click(position={"x": 5, "y": 500})
    page.keyboard.press("j")
    page.keyboard.press("j")
    cursor = page.locator("#message-list li.cursor")
    expect(cursor).to_contain_text("Older 3")
    cursor_uid = cursor.get_attribute("data-uid")
    for subject in ("Older 4", "Older 2", "Older 0"):
        page.locator("#message-list li[data-uid]", has_text=subject).locator(".pick").click()
    ticked = page.locator("#message-list input.select:checked")
    expect(ticked).to_have_count(3)
    imap.append("INBOX", b"From: Live <live@example.org>\r\nSubject: Arrived while choosing\r\n\r\nhi\r\n")
    expect(page.locator("#message-list li[data-uid]").first).to_contain_text(
        "Arrived while choosing", timeout=LIVE
    )
    expect(ticked).to_have_count(3)
    for subject in ("Older 4", "Older 2", "Older 0"):
        expect(
            page.locator("#message-list li[data-uid]", has_text=subject).locator("input.select")
        ).to_be_checked()
    expect(page.locator("#message-list li.cursor")).to_have_attribute("data-uid", cursor_uid or "")
    expect(page.locator(".selected-count")).to_have_text("3 selected")
    page.keyboard.press("j")  # the cursor goes on from where it was
    expect(page.locator("#message-list li.cursor")).to_contain_text("Older 2")
    imap.logout()


def test_select_all_results_of_a_search_tags_exactly_them(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = imap_for(services, mail_user)
    for i in range(25):
        imap.append("INBOX", f"From: a@example.org\r\nSubject: Needle {i}\r\n\r\nx\r\n".encode())
    for i in range(5):
        imap.append("INBOX", f"From: b@example.org\r\nSubject: Hay {i}\r\n\r\nx\r\n".encode())
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings")
    page.get_by_label("Messages per page (20–200)").fill("20")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".saved-quiet")).to_be_visible()  # saved in place: wait for it before leaving
    page.goto(f"{live_server}/mail/INBOX")
    box = page.locator('form.search input[name="q"]')
    box.fill("needle")
    box.press("Enter")
    expect(page.locator("#message-list li[data-uid]")).to_have_count(20)
    page.locator("#select-page").check()
    select_all = page.get_by_label("Select all 25 results")
    expect(select_all).to_be_visible()
    expect(page.get_by_text("in this folder")).to_have_count(0)  # not while searching
    select_all.check()
    expect(page.locator(".selected-count")).to_have_text("All 25 selected")
    page.locator(".selection-bar .tag-menu summary").click()
    page.locator(".selection-bar").get_by_role("button", name="Important").first.click()
    expect(page.locator(".toast")).to_contain_text("25 messages tagged Important")
    expect(page).to_have_url(re.compile(r"/mail/INBOX\?q=needle$"))
    imap.select_folder("INBOX")
    tagged = imap.search(["KEYWORD", "$label1"])
    assert sorted(tagged) == sorted(imap.search(["SUBJECT", "Needle"]))
    assert len(tagged) == 25
    imap.logout()


def test_two_unrelated_re_lunch_threads_stay_two_conversations(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = imap_for(services, mail_user)
    for mid, refs, date in (
        ("a1", "", "2 Mar"),
        ("a2", "a1", "2 Mar"),
        ("b1", "gone", "2 Nov"),
        ("b2", "b1", "2 Nov"),
    ):
        headers = f"Message-ID: <{mid}@x>\r\nDate: Mon, {date} 2026 10:00:00 +0000\r\n"
        if refs:
            headers += f"In-Reply-To: <{refs}@x>\r\nReferences: <{refs}@x>\r\n"
        subject = "Re: Lunch" if refs else "Lunch"
        imap.append("INBOX", f"From: p@example.org\r\nSubject: {subject}\r\n{headers}\r\nbody\r\n".encode())
    imap.logout()
    sign_in(page, live_server, mail_user)
    page.get_by_role("link", name="Conversations").click()
    rows = page.locator("#message-list li.thread")
    expect(rows).to_have_count(2)
    expect(rows.locator(".count")).to_have_text(["2 messages", "2 messages"])
