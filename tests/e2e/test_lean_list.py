"""The list's rows carry no forms (issue 16): the star and the quick actions still work, with
JavaScript through the shared forms app.js drives, and without it through plain form posts."""

from __future__ import annotations

import re
from pathlib import Path

from imapclient import IMAPClient
from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import SIZES, THEMES, both_themes, sign_in
from tests.e2e.test_live_updates import LIVE, wait_for_stream, watch_sse
from webmail.config import Settings


def fill(imap: IMAPClient, *subjects: str) -> None:
    for subject in subjects:
        imap.append(
            "INBOX", f"From: a@example.org\r\nSubject: {subject}\r\n\r\nx\r\n".encode(), flags=[b"\\Seen"]
        )


def test_star_and_quick_actions_of_a_row(
    page: Page, live_server: str, imap: IMAPClient, mail_user: MailUser
) -> None:
    fill(imap, "Keep me", "Star me", "Archive me")
    sign_in(page, live_server, mail_user)
    starred = page.locator("#message-list li.msg", has_text="Star me")
    starred.hover()
    starred.get_by_role("button", name="Star").click()
    expect(starred.get_by_role("button", name="Remove the star")).to_have_attribute("aria-pressed", "true")
    expect(page).to_have_url(f"{live_server}/mail/INBOX")  # no page load, no history entry
    imap.select_folder("INBOX")
    assert [
        b"\\Flagged" in flags for flags in imap.get_flags(imap.search(["SUBJECT", "Star me"])).values()
    ] == [True]
    row = page.locator("#message-list li.msg", has_text="Archive me")
    row.hover()
    row.get_by_role("button", name="Mark as unread").click()
    expect(page.locator("#message-list li.msg.unseen", has_text="Archive me")).to_have_count(1)
    row.hover()
    row.get_by_role("button", name="Archive").click()
    expect(page.locator(".toast")).to_contain_text("moved to Archive")
    expect(page.locator("#message-list li.msg", has_text="Archive me")).to_have_count(0)
    expect(page.locator("#message-list li.msg", has_text="Keep me")).to_have_count(1)
    imap.select_folder("Archive", readonly=True)
    assert imap.search(["SUBJECT", "Archive me"])


def test_without_javascript_the_star_is_a_form_post(
    browser: Browser, live_server: str, imap: IMAPClient, mail_user: MailUser
) -> None:
    fill(imap, "Plain star")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, mail_user)
    page.locator("#message-list li.msg", has_text="Plain star").get_by_role("button", name="Star").click()
    expect(page.locator("#message-list li.msg.flagged", has_text="Plain star")).to_have_count(1)
    imap.select_folder("INBOX")
    assert all(b"\\Flagged" in flags for flags in imap.get_flags(imap.search(["ALL"])).values())
    context.close()


def swap_in_the_same_list(page: Page) -> None:
    """The list again through htmx (the view toggle's "List", a link of the list's data-htmx-links):
    the rows as a folder click gets them, lean (web/rows.py lean_markup)."""
    page.locator("#message-list ul.messages").evaluate("(list) => { list.dataset.before = '1'; }")
    page.locator(".view-toggle a", has_text="List").click()
    expect(page.locator("#message-list ul.messages:not([data-before])")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/mail/INBOX(\?.*)?$"))


def test_a_list_from_htmx_looks_and_works_as_a_page_load(
    screen_page: Page, live_server: str, imap: IMAPClient, mail_user: MailUser, output_path: str
) -> None:
    """The lean rows of an htmx response (no unstarred star buttons, no draggable, no date
    titles: app.js adds them on hover or focus) look exactly as the page load's, in both themes
    and both sizes, pass axe, and star, drag and title as before."""
    fill(imap, *(f"Lean row {i}" for i in range(6)))
    imap.select_folder("INBOX")
    imap.add_flags(imap.search(["SUBJECT", "Lean row 2"]), [b"\\Flagged"])
    page = screen_page
    sign_in(page, live_server, mail_user)
    problems: list[str] = []
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server}/mail/INBOX")
        page.mouse.move(1, 1)
        loaded = {theme: shot(page, theme) for theme in THEMES}
        swap_in_the_same_list(page)
        page.mouse.move(1, 1)
        for theme in THEMES:
            assert shot(page, theme) == loaded[theme], f"{size} {theme}: the htmx list looks different"
        problems += both_themes(page, output_path, f"lean-list-{size}")
    assert problems == [], "\n".join(problems)
    page.set_viewport_size({"width": 1440, "height": 900})
    rows = page.locator("#message-list li.msg")
    expect(rows.locator(":scope > .star")).to_have_count(1)  # the starred row's, as the server sent it
    row = page.locator("#message-list li.msg", has_text="Lean row 4")
    row.hover()
    assert row.evaluate("(li) => li.draggable")
    assert re.fullmatch(
        r"\w{3}, \d+ \w{3} \d{4} \d\d:\d\d \(.+\)", row.locator("time").get_attribute("title") or ""
    )
    row.get_by_role("button", name="Star").click()
    expect(row.get_by_role("button", name="Remove the star")).to_have_attribute("aria-pressed", "true")
    imap.select_folder("INBOX")
    assert b"\\Flagged" in next(iter(imap.get_flags(imap.search(["SUBJECT", "Lean row 4"])).values()))
    # The checkboxes app.js gave the rows: a click, a shift-click range, the page's box.
    expect(rows.locator("input.select")).to_have_count(6)
    rows.nth(0).locator(".pick").click()
    rows.nth(2).locator(".pick").click(modifiers=["Shift"])
    expect(page.locator(".selected-count")).to_have_text("3 selected")
    page.locator("#select-page").check()
    expect(page.locator("#message-list input.select:checked")).to_have_count(6)
    page.locator("#select-page").uncheck()
    expect(page.locator("#message-list input.select:checked")).to_have_count(0)
    # Keyboard: "s" stars the cursor's row, whose star app.js adds first.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("j")
    first = rows.first
    expect(first).to_have_class(re.compile(r"\bcursor\b"))
    page.keyboard.press("s")
    expect(first).to_have_class(re.compile(r"\bflagged\b"))


def shot(page: Page, theme: str) -> bytes:
    page.emulate_media(color_scheme=theme)
    image = page.locator("#message-list").screenshot(animations="disabled")
    page.emulate_media(color_scheme="light")
    return image


# The menus an htmx list fetches when the user comes near (app.js loadMenus, issue 16): the
# header's, shown while no row is ticked, and the selection bar's.
HEADER_MENUS = (".folder-more", ".list-toolbar .sort")
BAR_MENUS = (".selection-bar .move-menu", ".selection-bar .tag-menu", ".selection-bar .more-menu")


def open_menu(page: Page, menu: str) -> None:
    page.locator(f"{menu} > summary").click()
    expect(page.locator(f"{menu}[open] > .menu-panel")).to_be_visible()


def menu_shots(page: Page) -> dict[str, bytes]:
    """Each menu opened, in both themes: the whole window (a panel may reach past the list)."""
    shots: dict[str, bytes] = {}
    for menu in (*HEADER_MENUS, *BAR_MENUS):
        if menu in BAR_MENUS and not page.locator("#message-list input.select:checked").count():
            page.locator("#message-list li.msg").first.locator(".pick").click()
            expect(page.locator(".selection-bar")).to_be_visible()
        open_menu(page, menu)
        for theme in THEMES:
            page.emulate_media(color_scheme=theme)
            shots[f"{menu} {theme}"] = page.screenshot(animations="disabled")
        page.emulate_media(color_scheme="light")
        page.keyboard.press("Escape")
        expect(page.locator("details.menu[open]")).to_have_count(0)
    page.locator("#message-list li.msg").first.locator(".pick").click()  # untick
    expect(page.locator("#message-list input.select:checked")).to_have_count(0)
    return shots


def test_the_menus_of_a_list_from_htmx_look_and_work_as_a_page_load(
    screen_page: Page,
    live_server: str,
    live_settings: Settings,
    imap: IMAPClient,
    mail_user: MailUser,
    output_path: str,
) -> None:
    """An htmx list comes without its heavy menus' panels and row tools; app.js fetches them as
    the user comes near, and each menu opened looks exactly as on a page load (both themes and
    sizes, axe), lists a folder created after the page loaded, and acts: move, sort, the row
    tools. A live update keeps an open menu open, with its panel."""
    fill(imap, *(f"Menu row {i}" for i in range(4)))
    page = screen_page
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.headers.get("hx-target") == "list-menus" else None)
    problems: list[str] = []
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server}/mail/INBOX")
        loaded = menu_shots(page)
        assert asked == []  # a page load has them
        swap_in_the_same_list(page)
        swapped = menu_shots(page)
        assert asked == [f"{live_server}/mail/INBOX"]  # once for the list
        asked.clear()
        Path(output_path).mkdir(parents=True, exist_ok=True)
        for name, shot_ in loaded.items():
            assert swapped[name] == shot_, f"{size} {name}: the menu of the htmx list looks different"
            menu, theme = name.rsplit(" ", 1)
            review = Path(output_path) / f"lean-menu-{size}-{menu.split('.')[-1]}-{theme}.png"
            review.write_bytes(shot_)  # kept for review
        open_menu(page, ".folder-more")
        problems += both_themes(page, output_path, f"lean-menus-{size}")
        page.keyboard.press("Escape")
    assert problems == [], "\n".join(problems)

    page.set_viewport_size({"width": 1440, "height": 900})
    imap.create_folder("Projects")  # elsewhere, after the page loaded
    imap.subscribe_folder("Projects")
    page.goto(f"{live_server}/mail/INBOX")
    wait_for_stream(page, live_settings, mail_user)
    swap_in_the_same_list(page)
    rows = page.locator("#message-list li.msg")
    # The row tools come with the menus: the first row hovered gets them.
    rows.nth(3).hover()
    rows.nth(3).get_by_role("button", name="Mark as unread").click()
    expect(page.locator("#message-list li.msg.unseen")).to_have_count(1)
    # Sort from the fetched panel: an htmx swap of the list, sorted.
    open_menu(page, ".list-toolbar .sort")
    page.locator(".list-toolbar .sort .menu-panel").get_by_role("listitem").filter(has_text="Subject").click()
    expect(page).to_have_url(f"{live_server}/mail/INBOX?sort=subject")
    expect(rows.locator(".subject")).to_have_text([f"Menu row {i}" for i in range(4)])
    # A live update while the move menu is open: it stays open, with its panel.
    rows.first.locator(".pick").click()
    open_menu(page, ".selection-bar .move-menu")
    imap.append("INBOX", b"From: a@example.org\r\nSubject: Another menu row\r\n\r\nx\r\n", flags=[b"\\Seen"])
    expect(rows).to_have_count(5, timeout=LIVE)
    expect(page.locator(".selection-bar .move-menu[open] > .menu-panel")).to_be_visible()
    page.locator(".selection-bar .move-menu").get_by_role("button", name="Projects").click()
    expect(page.locator(".toast")).to_contain_text("moved to Projects")
    imap.select_folder("Projects", readonly=True)
    assert len(imap.search(["SUBJECT", "Menu row 0"])) == 1


def test_a_row_under_a_resting_pointer_keeps_its_quick_actions_through_a_live_update(
    page: Page, live_server: str, live_settings: Settings, imap: IMAPClient, mail_user: MailUser
) -> None:
    """New mail arriving while the pointer rests on a row (no pointer move after it): the row then
    under the pointer has the row tools at once, from a page load's list and from an htmx one
    (whose tools were fetched), and they act."""
    fill(imap, *(f"Resting row {i}" for i in range(3)))
    watch_sse(page)
    sign_in(page, live_server, mail_user)
    wait_for_stream(page, live_settings, mail_user)
    rows = page.locator("#message-list li.msg")
    under_pointer = page.locator("#message-list li.msg:hover")
    for arrival, swap in (("Arrived on the page load", False), ("Arrived on the htmx list", True)):
        if swap:
            swap_in_the_same_list(page)
        count = rows.count()
        rows.nth(1).hover()
        expect(rows.nth(1).get_by_role("button", name="Mark as unread")).to_be_visible()
        imap.append(
            "INBOX", f"From: a@example.org\r\nSubject: {arrival}\r\n\r\nx\r\n".encode(), flags=[b"\\Seen"]
        )
        expect(rows).to_have_count(count + 1, timeout=LIVE)
        expect(under_pointer.get_by_role("button", name="Mark as unread")).to_be_visible(timeout=1_000)
    subject = under_pointer.locator(".subject").inner_text()
    under_pointer.get_by_role("button", name="Mark as unread").click()
    expect(page.locator("#message-list li.msg.unseen")).to_have_text(re.compile(subject))
    imap.select_folder("INBOX", readonly=True)
    assert imap.search(["UNSEEN"]) == imap.search(["SUBJECT", subject])
