"""Signing in through the browser; Debian's chromium is set up in tests/conftest.py."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import MailUser


def sign_in(page: Page, live_server: str, user: MailUser) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address or user name").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#message-list")).to_be_visible()


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """Anything a test leaves unclosed is collected (and reported) at its own teardown, not
    in whichever test happens to run when the garbage collector does."""
    yield
    gc.collect()
