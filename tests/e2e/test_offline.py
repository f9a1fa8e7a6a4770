"""Mail without a connection (issue 23): the app installs, keeps recent mail on the device for its
signed-in user, reads and searches it offline, queues what is done offline and sends it on."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from tests.e2e.test_reading import append
from webmail.devservices import DevServices

SETTLED = 20_000  # ms: the worker's copy after a page load (a few dozen small requests)


WITH_ATTACHMENT = (
    b"From: Ann <ann@example.org>\r\nTo: me@example.org\r\nSubject: Trip\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the list.\r\n'
    b'--b\r\nContent-Type: text/plain; name="packing.txt"\r\nContent-Disposition: attachment; filename="packing.txt"\r\n'
    b"\r\nPacking list: boots\r\n--b--\r\n"
)


def message(subject: str, text: str, sender: str = "ann@example.org", headers: str = "") -> bytes:
    return (
        f"From: Ann <{sender}>\r\nTo: me@example.org\r\nSubject: {subject}\r\n{headers}\r\n{text}\r\n"
    ).encode()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(service_workers="allow")
    try:
        yield context
    finally:
        context.close()


def controlled(page: Page) -> None:
    """Wait until the service worker controls the page."""
    wait_until(page, "async () => navigator.serviceWorker.controller !== null")


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


def open_row(page: Page, uid: int, subject: str) -> None:
    """Open a message from the list as a person does. Opening one marks it read, and the list
    follows that live: a click the refresh swallows is made again."""
    for _ in range(3):
        page.locator(f'#message-list li[data-uid="{uid}"] .row-link').click()
        try:
            expect(page.locator("#reader h1")).to_have_text(subject, timeout=3000)
            return
        except AssertionError:
            continue
    expect(page.locator("#reader h1")).to_have_text(subject)


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
    uids = client.search()
    flags = {uid: data[b"FLAGS"] for uid, data in client.fetch(uids, ["FLAGS"]).items()} if uids else {}
    client.logout()
    return flags


def test_installable_and_read_offline_then_sent_on(
    context: BrowserContext, live_server: str, services: DevServices, mail_user: MailUser, output_path: str
) -> None:
    page = context.new_page()
    uids = [
        append(
            services,
            mail_user,
            message(
                f"Note {n}",
                f"Body number {n} about kiwis" if n == 2 else f"Body number {n}",
                headers=f"Message-ID: <note-{n}@test>\r\n"
                + ("In-Reply-To: <note-5@test>\r\n" if n == 6 else ""),
            ),
        )
        for n in range(1, 8)
    ]
    packed = append(services, mail_user, WITH_ATTACHMENT)
    elsewhere = folder_message(services, mail_user, "Projects", message("Plans", "Not kept offline"))
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
        open_row(page, uid, f"Note {uids.index(uid) + 1}")
    page.goto(f"{live_server}/mail/INBOX/{uids[1]}")  # a whole page: kept as it is
    expect(page.locator("#reader")).to_contain_text("Body number 2 about kiwis")
    wait_until(
        page,
        "async () => (await self.WMOffline.all(document.body.dataset.offlineKey, 'messages')).filter((r) => r.body).length >= 8",
    )

    context.set_offline(True)
    page.goto(f"{live_server}/mail/INBOX")
    expect(page.locator("#offline-banner")).to_have_text("Offline — showing mail saved on this device")
    expect(page.locator("#message-list")).to_contain_text("Note 7")
    page.screenshot(path=f"{output_path}/offline-inbox.png")  # kept for review
    page.goto(f"{live_server}/mail/INBOX/{uids[-1]}")
    expect(page.locator("h1")).to_have_text("Note 7")
    expect(page.frame_locator("iframe.mail-body").locator("body")).to_contain_text("Body number 7")
    page.screenshot(path=f"{output_path}/offline-reader.png")  # kept for review
    page.goto(f"{live_server}/mail/INBOX")
    page.locator(f'#message-list li[data-uid="{uids[-2]}"] .row-link').click()  # htmx, offline
    expect(page).to_have_url(re.compile(rf"/mail/INBOX/{uids[-2]}\?uv=\d+$"))
    # A reply: the kept messages of its conversation come along.
    expect(page.locator(".offline-thread li")).to_have_text(["Ann: Note 5", "Ann: Note 6"])
    page.goto(f"{live_server}/mail/INBOX/{packed}")  # its small attachment came along
    attachment = page.locator(".offline-attachments a", has_text="packing.txt")
    assert "Packing list" in page.evaluate(
        "async (href) => (await fetch(href)).text()", attachment.get_attribute("href")
    )
    page.goto(f"{live_server}/mail/INBOX?q=kiwis")
    expect(page.locator("#offline-search")).to_have_text("1 message saved on this device matches.")
    expect(page.locator("#message-list li[data-uid]")).to_have_count(1)
    page.goto(f"{live_server}/mail/Projects/{elsewhere}")  # a folder not kept offline
    expect(page.locator("h1")).to_have_text("Not available offline")
    expect(page.locator("main")).to_contain_text("This message is not saved on this device.")
    page.screenshot(path=f"{output_path}/offline-not-kept.png")  # kept for review

    # Offline changes: a star, an archive from the reader, a star on a message another client
    # deletes meanwhile, and a message written and sent; all wait on the device.
    page.goto(f"{live_server}/mail/INBOX")
    page.locator(f'#message-list li[data-uid="{uids[0]}"] > .star').click()
    expect(page.locator(f'#message-list li[data-uid="{uids[0]}"]')).to_have_class(re.compile(r"\bflagged\b"))
    gone = uids[2]
    delete_elsewhere(services, mail_user, gone)
    page.locator(f'#message-list li[data-uid="{gone}"] > .star').click()
    expect(page.locator("#offline-pending")).to_contain_text("2 changes wait on this device")
    page.goto(f"{live_server}/mail/INBOX/{uids[1]}")  # kept as a whole page while online
    page.locator("#reader .archive-form button").click()
    expect(page).to_have_url(f"{live_server}/mail/INBOX")
    expect(page.locator(f'#message-list li[data-uid="{uids[1]}"]')).to_be_hidden()
    page.goto(f"{live_server}/compose")
    page.locator("#to").fill("friend@example.org")
    page.locator("#subject").fill("Written on the train")
    page.locator("#body").fill("Sent when the train is out of the tunnel.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(f"{live_server}/mail/INBOX")
    expect(page.locator("#offline-pending")).to_contain_text(
        "1 message waits in the outbox on this device; it is sent when you are back online."
    )
    page.screenshot(path=f"{output_path}/offline-outbox.png")  # kept for review

    # Back online: everything is sent on through the normal routes, once, in order.
    context.set_offline(False)
    expect(page.locator("#offline-conflicts")).to_contain_text(
        "Done offline but not possible now: Star “Note 3”.", timeout=SETTLED
    )
    expect(page.locator("#offline-pending")).to_have_count(0, timeout=SETTLED)
    expect(page.locator("#offline-banner")).to_contain_text("Back online")
    flags = imap_flags(services, mail_user, "INBOX")
    assert b"\\Flagged" in flags[uids[0]]
    assert uids[1] not in flags
    assert gone not in flags
    assert any(b"Subject: Note 2" in raw for raw in archived(services, mail_user))
    sent = [m for m in services.smtp.messages if b"Written on the train" in m.content]
    assert len(sent) == 1
    page.reload()
    expect(page.locator("#message-list")).to_be_visible()
    assert len([m for m in services.smtp.messages if b"Written on the train" in m.content]) == 1

    # Online, the copy follows the mailbox: what left it is gone from the device, new mail comes.
    key = page.evaluate("document.body.dataset.offlineKey")
    records = f"(await self.WMOffline.all('{key}', 'messages'))"
    wait_until(page, f"async () => !{records}.some((r) => r.uid === {gone} || r.uid === {uids[1]})")
    append(services, mail_user, message("Arrived while online", "Fresh"))
    wait_until(page, f"async () => {records}.some((r) => r.subject === 'Arrived while online' && r.body)")
    context.set_offline(True)
    page.goto(f"{live_server}/mail/INBOX")
    expect(page.locator("#message-list")).to_contain_text("Arrived while online")
    expect(page.locator(f'#message-list li[data-uid="{gone}"]')).to_have_count(0)
    context.set_offline(False)

    # Signing out leaves nothing of this user's mail on the device.
    page.goto(f"{live_server}/mail/INBOX")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    storage = device_storage(page)
    assert f"wm-mail-{key}" not in storage["caches"]
    assert f"wm-offline-{key}" not in storage["databases"]
    assert storage == {"caches": [], "databases": []}

    # The next person on this browser sees only their own mail, online or not.
    other = MailUser(services.dovecot.new_user("pw-second-1"), "pw-second-1")
    append(services, other, message("Hello from B", "Only for the second user", "bo@example.org"))
    sign_in(page, live_server, other)
    wait_until(
        page,
        "async () => (await self.WMOffline.all(document.body.dataset.offlineKey, 'messages')).length >= 1",
    )
    storage = device_storage(page)
    second = page.evaluate("document.body.dataset.offlineKey")
    assert second != key
    assert storage == {"caches": [f"wm-mail-{second}"], "databases": [f"wm-offline-{second}"]}
    context.set_offline(True)
    page.goto(f"{live_server}/mail/INBOX")
    expect(page.locator("#message-list")).to_contain_text("Hello from B")
    expect(page.locator("#message-list")).not_to_contain_text("Note")
    page.goto(f"{live_server}/mail/INBOX?q=kiwis")
    expect(page.locator("#offline-search")).to_have_text("No message saved on this device matches.")
    context.set_offline(False)

    # The session ends on the server (here: its cookie is gone): the next look at the server
    # finds out, and the device forgets the copy.
    context.clear_cookies()
    page.evaluate(
        "() => navigator.serviceWorker.controller.postMessage({type: 'sync', force: true,"
        " key: document.body.dataset.offlineKey})"
    )
    wait_until(
        page,
        "async () => (await caches.keys()).every((n) => !n.startsWith('wm-mail-'))"
        " && (await indexedDB.databases()).every((d) => !d.name.startsWith('wm-offline-'))",
    )


def delete_elsewhere(services: DevServices, user: MailUser, uid: int) -> None:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    client.select_folder("INBOX")
    client.delete_messages([uid])
    client.expunge()
    client.logout()


def archived(services: DevServices, user: MailUser) -> list[bytes]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    client.select_folder("Archive")
    uids = client.search()
    found = [data[b"RFC822"] for data in client.fetch(uids, ["RFC822"]).values()] if uids else []
    client.logout()
    return found


def folder_message(services: DevServices, user: MailUser, folder: str, raw: bytes) -> int:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    client.create_folder(folder)
    client.logout()
    return append(services, user, raw, folder)
