"""Signing in and out as people do (issue 15): a deep link survives the sign-in page, the
sign-out page says so, and Back after signing out shows the sign-in page, not the mailbox;
both pages at desktop and phone size, light and dark, fit, pass axe-core and are kept."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import SIZES, both_themes, sign_in


def test_a_deep_link_is_kept_through_sign_in(page: Page, live_server: str, mail_user: MailUser) -> None:
    page.goto(f"{live_server}/settings/keyboard")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fsettings%2Fkeyboard$"))
    page.get_by_label("Email address or user name").fill(mail_user.username)
    page.get_by_label("Password").fill(mail_user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/settings/keyboard")
    expect(page.get_by_role("heading", name="Keyboard")).to_be_visible()


def test_back_after_sign_out_shows_the_sign_in_page(
    page: Page, live_server: str, mail_user: MailUser
) -> None:
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings/general")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator(".topbar")).to_have_count(0)  # no page of the mailbox from the cache
    expect(page).to_have_url(re.compile(r"/login"))


def test_sign_in_and_out_pages_fit_pass_axe_and_are_kept(
    screen_page: Page, live_server: str, output_path: str
) -> None:
    problems: list[str] = []
    for size, (width, height) in SIZES.items():
        screen_page.set_viewport_size({"width": width, "height": height})
        for name, path in (("sign-in", "/login"), ("signed-out", "/login?signed_out=1")):
            screen_page.goto(f"{live_server}{path}")
            problems += both_themes(screen_page, output_path, f"{name}-{size}")
    assert problems == [], "\n".join(problems)
