"""Mail without a connection (issue 23): the app installs, keeps recent mail on the device for its
signed-in user, reads and searches it offline, queues what is done offline and sends it on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from imapclient import IMAPClient
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from tests.e2e.test_reading import append
from webmail.devservices import DevServices

SETTLED = 20_000  # ms: the worker's copy after a page load (a few dozen small requests)


def message(subject: str, text: str, sender: str = "ann@example.org") -> bytes:
    return f"From: Ann <{sender}>\r\nTo: me@example.org\r\nSubject: {subject}\r\n\r\n{text}\r\n".encode()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(service_workers="allow")
    try:
        yield context
    finally:
        context.close()


def controlled(page: Page) -> None:
    """Wait until the service worker controls the page."""
    page.evaluate(
        """() => navigator.serviceWorker.controller || new Promise((resolve) =>
             navigator.serviceWorker.addEventListener("controllerchange", resolve))"""
    )


def wait_until(page: Page, condition: str) -> None:
    """Poll an async condition in the page (the CSP forbids wait_for_function's eval)."""
    done = page.evaluate(
        f"""async () => {{
          const deadline = Date.now() + {SETTLED};
          while (Date.now() < deadline) {{
            try {{ if (await ({condition})()) return true; }} catch (error) {{ /* not yet */ }}
            await new Promise((resolve) => setTimeout(resolve, 100));
          }}
          return false;
        }}"""
    )
    assert done, f"not within {SETTLED} ms: {condition}"


def kept_messages(page: Page) -> int:
    return int(
        page.evaluate(
            """async () => {
              const key = document.body.dataset.offlineKey;
              if (!key) return -1;
              return (await self.WMOffline.all(key, "messages")).filter((r) => r.body).length;
            }"""
        )
    )


def device_storage(page: Page) -> dict[str, list[str]]:
    result: dict[str, list[str]] = page.evaluate(
        """async () => ({
          caches: (await caches.keys()).filter((n) => n.startsWith("wm-mail-")),
          databases: (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith("wm-offline-")),
        })"""
    )
    return result


def imap_flags(services: DevServices, user: MailUser, folder: str) -> dict[int, tuple[bytes, ...]]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    client.select_folder(folder)
    flags = (
        {uid: data[b"FLAGS"] for uid, data in client.fetch("1:*", ["FLAGS"]).items()}
        if client.search()
        else {}
    )
    client.logout()
    return flags


def test_installable_and_read_offline_then_sent_on(
    context: BrowserContext, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    page = context.new_page()
    uids = [
        append(
            services,
            mail_user,
            message(f"Note {n}", f"Body number {n} about kiwis" if n == 2 else f"Body number {n}"),
        )
        for n in range(1, 8)
    ]
    sign_in(page, live_server, mail_user)

    # Installable: a manifest Chromium accepts, and a worker that controls the page.
    manifest = page.evaluate(
        "async () => { const r = await fetch(document.querySelector('link[rel=manifest]').href);"
        " return {type: r.headers.get('content-type'), body: await r.json()}; }"
    )
    assert manifest["type"].startswith("application/manifest+json")
    assert manifest["body"]["start_url"] == "/mail/INBOX"
    assert manifest["body"]["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["body"]["icons"]}
    page.reload()
    controlled(page)
    session = context.new_cdp_session(page)
    errors = session.send("Page.getAppManifest")["errors"]
    assert errors == [], errors
    installability = session.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # A Playwright context is a private window, the one thing that keeps Chromium from offering it.
    assert [e["errorId"] for e in installability if e["errorId"] != "in-incognito"] == [], installability

    for uid in uids[-5:]:
        page.locator(f'#message-list li[data-uid="{uid}"] .row-link').click()
        expect(page.locator("#reader")).to_contain_text(f"Body number {uids.index(uid) + 1}")
    wait_until(
        page,
        "async () => (await self.WMOffline.all(document.body.dataset.offlineKey, 'messages')).filter((r) => r.body).length >= 7",
    )

    context.set_offline(True)
    page.goto(f"{live_server}/mail/INBOX")
    expect(page.locator("#offline-banner")).to_have_text("Offline — showing mail saved on this device")
    expect(page.locator("#message-list")).to_contain_text("Note 7")
    page.goto(f"{live_server}/mail/INBOX/{uids[-1]}")
    expect(page.locator("h1")).to_have_text("Note 7")
    expect(page.frame_locator("iframe.mail-body").locator("body")).to_contain_text("Body number 7")
    page.goto(f"{live_server}/mail/INBOX?q=kiwis")
    expect(page.locator("#offline-search")).to_have_text("1 message saved on this device matches.")
    expect(page.locator("#message-list li[data-uid]")).to_have_count(1)
    page.goto(f"{live_server}/mail/INBOX/999")
    expect(page.locator("h1")).to_have_text("Not available offline")
