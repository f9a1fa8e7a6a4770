"""A live uvicorn server in a thread and Debian's chromium for Playwright."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import MailUser

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run as root `apt-get install -y chromium` (make test does this)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def sign_in(page: Page, live_server: str, user: MailUser) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{live_server}/login")
    page.get_by_label("Email address or user name").fill(user.username)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#folder-list")).to_be_visible()


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """Anything a test leaves unclosed is collected (and reported) at its own teardown, not
    in whichever test happens to run when the garbage collector does."""
    yield
    gc.collect()
