"""Signing in through the browser, and the screen checks the screen tests share (Debian's
chromium itself is set up in tests/conftest.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from webmail.devservices import DevServices

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
THEMES = ("light", "dark")


def sign_in(page: Page, live_server: str, user: MailUser) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address or user name").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#message-list")).to_be_visible()


def other_client(services: DevServices, user: MailUser) -> IMAPClient:
    """The user's mailbox as another mail program sees it, signed in."""
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    return client


@pytest.fixture
def imap(services: DevServices, mail_user: MailUser) -> Iterator[IMAPClient]:
    """``other_client`` for the test's user, logged out even when the test fails."""
    client = other_client(services, mail_user)
    yield client
    client.logout()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Pages of the ``page`` fixture run without the service worker (static/sw.js): its copy of
    the mailbox, made in the background, would race each test's own requests and outlive its
    pages. tests/e2e/test_offline.py runs with it."""
    return {**browser_context_args, "service_workers": "block"}


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """Anything a test leaves unclosed is collected (and reported) at its own teardown, not
    in whichever test happens to run when the garbage collector does."""
    yield
    gc.collect()


def axe_findings(page: Page) -> list[str]:
    """axe-core's serious and critical findings; the sender's own HTML (the mail frame) is not ours."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make install` (npm ci installs the test tools of package.json)")
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        """async () => await axe.run({exclude: [["iframe.mail-body"]]}, {resultTypes: ["violations"]})"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:4]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screen_problems(page: Page, output_path: str, name: str, *, full_page: bool = False) -> list[str]:
    """Sideways scrolling and serious axe findings of the page as it is; a screenshot for review
    (``full_page`` for long pages without sticky bars, which would show mid-page)."""
    page.wait_for_timeout(100)
    page.screenshot(path=Path(output_path) / f"{name}.png", full_page=full_page)
    fits = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    problems = [f"{name} scrolls sideways: {fits}"] if fits[0] > fits[1] else []
    return problems + [f"{name}: {finding}" for finding in axe_findings(page)]


def both_themes(page: Page, output_path: str, name: str, *, full_page: bool = False) -> list[str]:
    """The page as it is, light and dark (the colour scheme changes in place, no reload);
    named ``{name}-{theme}``."""
    problems: list[str] = []
    for theme in THEMES:
        page.emulate_media(color_scheme=theme)
        problems += screen_problems(page, output_path, f"{name}-{theme}", full_page=full_page)
    page.emulate_media(color_scheme="light")
    return problems


def every_look(page: Page, output_path: str, name: str) -> list[str]:
    """The page as loaded, in both themes at both sizes (one load, four screenshots: the
    width changes in place too); named ``{name}-{size}-{theme}``."""
    problems: list[str] = []
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        problems += both_themes(page, output_path, f"{name}-{size}")
    return problems


def open_screen_context(browser: Browser, theme: str = "light") -> tuple[Any, Page, list[str]]:
    """A context for screen checks: the colour scheme asked for, and the CSP bypassed so that
    axe-core can be injected; the page's script errors are collected in the list returned."""
    # No transitions: a row's avatar fading under the pointer is not measured half-faded.
    context = browser.new_context(color_scheme=theme, bypass_csp=True, reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


@pytest.fixture
def screen_page(browser: Browser) -> Iterator[Page]:
    """A fresh page for screenshots and axe-core (see both_themes); a script error on it fails
    the test."""
    context, page, errors = open_screen_context(browser)
    yield page
    context.close()
    if errors:
        pytest.fail(f"script errors: {errors}")
