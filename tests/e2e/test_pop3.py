from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import MailUser, process_env
from tests.e2e.conftest import every_look, sign_in
from tests.integration.test_pop3 import source_message
from tests.integration.test_pop3_accounts import Source
from webmail.config import Settings
from webmail.devservices import DevServices

MESSAGES = 300


@pytest.fixture
def worker(live_settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`webmail worker` as a real process; small batches, so the import shows its progress."""
    log_path = tmp_path / "worker.log"
    env = process_env(live_settings, WEBMAIL_POP3_BATCH_MESSAGES="40")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "webmail.cli", "worker"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        yield process
        os.killpg(process.pid, signal.SIGCONT)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def test_add_account_test_fetch_watch_progress_and_read(
    screen_page: Page,
    live_server: str,
    services: DevServices,
    mail_user: MailUser,
    worker: Path,
    output_path: str,
) -> None:
    page = screen_page
    source = Source(MailUser(services.dovecot.new_user("pw-e2e"), "pw-e2e"), services)
    source.put(*[source_message(i, size=6000) for i in range(MESSAGES)])
    # Every "Importing N of M" the page ever shows is remembered, however fast the import.
    page.add_init_script("""
        window.__progress = [];
        new MutationObserver(() => {
          for (const el of document.querySelectorAll('.running, .fetching')) window.__progress.push(el.textContent.trim());
        }).observe(document, {subtree: true, childList: true, characterData: true});
    """)
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/settings")
    page.get_by_role("link", name="Mail from other accounts (POP3)").click()
    page.get_by_role("link", name="Add a POP3 account").click()
    page.get_by_label("POP3 server").fill("127.0.0.1")
    page.get_by_label("Security", exact=True).select_option("tls")
    expect(page.get_by_label("Port", exact=True)).to_have_value("995")  # the port follows the choice
    page.get_by_label("Security", exact=True).select_option("none")
    expect(page.get_by_label("Port", exact=True)).to_have_value("110")
    page.get_by_label("Port", exact=True).fill(str(services.dovecot.pop3_port))
    page.get_by_label("User name").fill(source.user.username)
    page.get_by_label("Password", exact=True).fill("wrong")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("user name or password is wrong")
    page.get_by_label("Password", exact=True).fill(source.user.password)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text(f"Connection OK: {MESSAGES} messages")
    page.get_by_label("Folder (created if missing)").fill("From POP3")
    page.get_by_label("Everything on the server now, too").check()
    page.get_by_label("I agree that this server keeps my mailbox password").check()
    page.get_by_role("button", name="Add the account").click()

    expect(page.locator("#account-status")).to_contain_text(f"{MESSAGES} imported", timeout=60_000)
    seen = page.evaluate("window.__progress")
    assert any(text.startswith("Importing") and f"of {MESSAGES}" in text for text in seen), seen

    source.put(source_message(1000), source_message(1001))
    os.killpg(worker.pid, signal.SIGSTOP)  # the job waits in the queue until the worker goes on
    page.get_by_role("button", name="Fetch now").click()
    expect(page.locator("#account-status .fetching")).to_have_text("Fetching now…")
    os.killpg(worker.pid, signal.SIGCONT)
    expect(page.locator("#account-status")).to_contain_text("2 imported", timeout=30_000)
    expect(page.locator("#account-status .fetching")).to_have_count(0)  # ended with the fetch, no reload
    expect(page.locator("#account-status")).to_contain_text(
        re.compile(rf"Imported in total\s*{MESSAGES + 2}")
    )

    assert every_look(page, output_path, "pop3-account") == []  # its status, history and form
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server}/settings/accounts")
    assert every_look(page, output_path, "pop3-accounts") == []
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto(f"{live_server}/mail/From%20POP3")
    expect(page.locator("#message-list")).to_contain_text("External 1001")
    expect(page.locator('#folder-list [data-folder="From POP3"]')).to_be_visible()
