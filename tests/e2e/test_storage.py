"""Space on the server in the browser: the quota bar's colours, the auto-archive preview, an
export downloaded from the list's menu. Screenshots go under pytest-playwright's output folder."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser, fresh_database, make_settings, serve_in_thread
from tests.e2e.conftest import axe_findings, both_themes, screen_problems, sign_in
from tests.e2e.test_live_updates import wait_for_stream, watch_sse
from webmail.config import Settings
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.exports.jobs import run_export

pytestmark = pytest.mark.e2e
KB = 1024


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, object]) -> dict[str, object]:
    return {**browser_context_args, "bypass_csp": True}  # so axe-core can be injected


def fill(services: DevServices, user: MailUser, sizes: list[int], *, days_ago: int = 0) -> None:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    for i, size in enumerate(sizes):
        raw = f"From: a@example.org\r\nSubject: filler {i}\r\n\r\n".encode() + (b"x" * 76 + b"\r\n") * (
            size // 78
        )
        client.append("INBOX", raw, msg_time=datetime.now(UTC) - timedelta(days=days_ago))
    client.logout()


@pytest.mark.parametrize(
    ("used_kb", "level", "colour"),
    [(850, "warning", "rgb(143, 91, 0)"), (970, "critical", "rgb(180, 35, 24)")],
)
def test_quota_bar_colours(
    page: Page,
    live_server: str,
    services: DevServices,
    output_path: str,
    used_kb: int,
    level: str,
    colour: str,
) -> None:
    user = MailUser(services.dovecot.new_user("pw", quota_kb=1000), "pw")
    fill(services, user, [used_kb * KB])
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, user)
    quota = page.locator(".quota")
    expect(quota).to_have_attribute("data-quota", level)
    expect(quota.locator(".quota-text")).to_have_css("color", colour)
    expect(quota.get_by_role("link")).to_have_attribute("href", "/settings/storage")
    page.screenshot(path=Path(output_path) / f"quota-{level}.png")
    assert axe_findings(page) == []
    quota.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Free up space")).to_be_visible()
    page.screenshot(path=Path(output_path) / f"storage-{level}.png", full_page=True)
    assert axe_findings(page) == []


RECORD_EXPORT_TEXTS = """
window.__exportTexts = [];
new MutationObserver(() => {
  for (const text of document.querySelectorAll("[data-export-text]")) {
    if (window.__exportTexts[window.__exportTexts.length - 1] !== text.textContent) window.__exportTexts.push(text.textContent);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def test_archive_preview_and_export_download_with_progress(
    page: Page, live_server: str, live_settings: Settings, services: DevServices, output_path: str
) -> None:
    user = MailUser(services.dovecot.new_user("pw"), "pw")
    fill(services, user, [2 * KB, 2 * KB, 2 * KB], days_ago=400)
    fill(services, user, [2 * KB] * 37, days_ago=1)
    page.set_viewport_size({"width": 1440, "height": 900})
    watch_sse(page)
    page.add_init_script(RECORD_EXPORT_TEXTS)
    sign_in(page, live_server, user)
    wait_for_stream(page, live_settings, user)
    page.locator(".folder-more summary").click()
    page.screenshot(path=Path(output_path) / "export-menu.png")
    with page.expect_download() as info:
        page.get_by_role("listitem").filter(has_text="Export folder as mbox").click()
    download = info.value
    assert download.suggested_filename == "INBOX.mbox"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"From a@example.org ")
    assert content.count(b"\nFrom a@example.org ") == 39
    progress = page.locator(".export-progress")
    expect(progress.locator("[data-export-text]")).to_have_text("Exported 40 messages.")
    expect(progress.locator("progress")).to_have_js_property("value", 40)
    page.screenshot(path=Path(output_path) / "export-done.png")
    texts = page.evaluate("() => window.__exportTexts")
    assert texts[0] == "Preparing the export…"
    steps = [int(n) for n in re.findall(r"Exporting (\d+) of 40 messages", " ".join(texts))]
    assert steps == sorted(steps)
    assert any(0 < n < 40 for n in steps), texts  # seen while it streamed
    assert axe_findings(page) == []
    # Two rows ticked, exported from the selection bar (a form post that redirects to the file).
    page.locator("#message-list li[data-uid] input.select").nth(0).check()
    page.locator("#message-list li[data-uid] input.select").nth(1).check()
    page.locator(".selection-bar .more-menu summary").click()
    with page.expect_download() as chosen:
        page.locator(".selection-bar").get_by_role("button", name="Export as mbox").click()
    assert chosen.value.suggested_filename == "INBOX selection.mbox"
    assert Path(chosen.value.path()).read_bytes().count(b"From a@example.org ") == 2
    expect(page.locator(".export-progress [data-export-text]").last).to_have_text("Exported 2 messages.")
    page.goto(f"{live_server}/settings/archive")
    page.get_by_label("Messages older than (days)").fill("365")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".archive-preview")).to_contain_text("3 messages")
    page.screenshot(path=Path(output_path) / "archive-preview.png", full_page=True)
    assert axe_findings(page) == []


def test_import_shows_progress_then_the_report(
    page: Page, live_server: str, services: DevServices, tmp_path: Path
) -> None:
    user = MailUser(services.dovecot.new_user("pw"), "pw")
    mbox = b"".join(
        b"From a@example.org Sat Jan  4 10:00:00 2020\nSubject: imported %d\nMessage-ID: <i%d@x>\n\n" % (i, i)
        + b"z" * 300_000
        + b"\n\n"
        for i in range(3)
    )
    upload = tmp_path / "three.mbox"
    upload.write_bytes(mbox + b"From b@example.org Sat Jan  4 10:00:00 2020\nnot a header\n\n")
    sign_in(page, live_server, user)
    page.goto(f"{live_server}/mail/INBOX/import")
    page.get_by_label("File").set_input_files(str(upload))
    page.evaluate("() => { window.stayed = true; }")
    page.get_by_role("button", name="Import").click()
    report = page.locator("[data-import-report]")
    expect(report).to_have_attribute("data-imported", "3")
    expect(report).to_have_attribute("data-refused", "1")
    expect(page.locator(".import-refused")).to_contain_text("message 4 of the mbox file")
    assert page.evaluate(
        "() => window.stayed === true"
    )  # the upload went by XHR with progress, no navigation


def test_background_export_is_listed_announced_and_downloaded(
    page: Page, services: DevServices, tmp_path_factory: pytest.TempPathFactory, output_path: str
) -> None:
    settings = make_settings(
        services, fresh_database(tmp_path_factory), export_dir=tmp_path_factory.mktemp("exports"),
        imap_master_user=services.dovecot.master_user, imap_master_password=services.dovecot.master_password,
    )  # fmt: skip
    user = MailUser(services.dovecot.new_user("pw"), "pw")
    fill(services, user, [2 * KB, 3 * KB, 4 * KB])
    page.set_viewport_size({"width": 1440, "height": 900})
    watch_sse(page)
    with serve_in_thread(settings) as server:
        sign_in(page, server, user)
        page.goto(f"{server}/settings/storage")
        page.locator('tr[data-folder="INBOX"]').get_by_role("button", name="In the background").click()
        expect(page.locator("[data-flash]")).to_contain_text("Exporting INBOX.mbox in the background")
        item = page.locator(".storage-exports li")
        expect(item).to_contain_text("waiting for its turn")
        page.wait_for_function("() => window.__sseOpen === true")
        export_id = item.get_attribute("data-export-id")
        assert export_id
        with ThreadPoolExecutor(max_workers=1) as worker:  # the worker's job, in a thread of its own
            worker.submit(run_export_now, settings, user.username, export_id).result()
        toast = page.locator(".export-ready")
        expect(toast).to_contain_text("Your export of 3 messages is ready.")
        expect(item).to_have_attribute("data-state", "ready")  # the list followed by itself
        expect(item).to_contain_text("3 messages")
        assert both_themes(page, output_path, "storage-export-ready") == []
        page.set_viewport_size({"width": 390, "height": 844})
        assert screen_problems(page, output_path, "storage-export-ready-phone") == []
        page.set_viewport_size({"width": 1440, "height": 900})
        with page.expect_download() as info:
            toast.get_by_role("link", name="Download").click()
        assert info.value.suggested_filename == "INBOX.mbox"
        assert Path(info.value.path()).read_bytes().count(b"From a@example.org ") == 3
        page.goto("about:blank")  # the live stream ends before the server does


def run_export_now(settings: Settings, user: str, export_id: str) -> None:
    engine = create_db_engine(settings.database_url)
    try:
        job = run_export(settings, create_sessionmaker(engine), user, export_id)
        assert job is not None
        assert job.state == "ready"
    finally:
        engine.dispose()
