from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from imapclient import IMAPClient
from playwright.sync_api import Browser, Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices
from webmail.devservices.seed import DemoMailbox, tiny_png

CORPUS = Path(__file__).parent.parent / "corpus"


def append(services: DevServices, user: MailUser, raw: bytes, folder: str = "INBOX") -> int:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    response = client.append(folder, raw)
    client.logout()
    match = re.search(rb"APPENDUID \d+ (\d+)", response)
    assert match
    return int(match.group(1))


class CountingServer:
    """A loopback HTTP server that counts requests: the 'remote' image host."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                body = tiny_png((200, 0, 0))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_host() -> Iterator[CountingServer]:
    server = CountingServer()
    yield server
    server.close()


def test_script_in_html_mail_does_not_run(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    append(services, mail_user, (CORPUS / "xss-vectors.eml").read_bytes())
    sign_in(page, live_server, mail_user)
    title = page.title()
    page.locator(".row-link", has_text="hostile HTML").click()
    frame_element = page.locator("iframe.mail-body")
    expect(frame_element).to_be_visible()
    assert "allow-scripts" not in (frame_element.get_attribute("sandbox") or "")
    frame = page.frame_locator("iframe.mail-body")
    expect(frame.get_by_text("Visible safe text")).to_be_visible()
    expect(frame.locator("script")).to_have_count(0)
    expect(frame.get_by_text("click me")).not_to_have_attribute("href", re.compile("javascript", re.I))
    page.wait_for_timeout(500)  # give any handler that survived a chance to fire
    assert "pwned" not in page.title()
    assert page.title().endswith(title.split(" · ")[-1])


def test_remote_image_only_after_show_images(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser, image_host: CountingServer
) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "News <news@example.org>", mail_user.username, "Remote picture"
    msg.set_content(
        f'<p>Look:</p><img id="remote" src="http://127.0.0.1:{image_host.port}/pic.png" width="80" height="40">',
        subtype="html",
    )
    append(services, mail_user, bytes(msg))
    sign_in(page, live_server, mail_user)
    page.locator(".row-link", has_text="Remote picture").click()
    expect(page.get_by_text("Remote images were blocked")).to_be_visible()
    expect(page.frame_locator("iframe.mail-body").locator("p")).to_have_text("Look:")
    page.wait_for_timeout(500)
    assert image_host.requests == []
    page.get_by_role("link", name="Show images").click()
    expect(page.frame_locator("iframe.mail-body").locator("img")).to_be_visible()
    for _ in range(50):
        if image_host.requests:
            break
        page.wait_for_timeout(100)
    assert image_host.requests == ["/pic.png"]


def test_download_attachment_bytes(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    payload = bytes(range(256)) * 1000
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "files@example.org", "Binary attached"
    msg.set_content("see attachment")
    msg.add_attachment(payload, "application", "octet-stream", filename="Daten Ü.bin")
    append(services, mail_user, bytes(msg))
    sign_in(page, live_server, mail_user)
    page.locator(".row-link", has_text="Binary attached").click()
    attachment = page.locator(".attachment", has_text="Daten Ü.bin")
    expect(attachment).to_be_visible()
    with page.expect_download() as info:
        attachment.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "Daten Ü.bin"
    assert Path(download.path()).read_bytes() == payload


def test_conversation_view_groups_a_thread(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    thread = DemoMailbox(("Me", mail_user.username), seed=7).thread()
    for message in thread:
        append(services, mail_user, message.raw)
    sign_in(page, live_server, mail_user)
    page.get_by_role("link", name="Conversations").click()
    expect(page).to_have_url(re.compile(r"view=threads"))
    # One row for the conversation (issue 14); opening it stacks its messages in the reader.
    group = page.locator("li.thread")
    expect(group).to_have_count(1)
    expect(group.locator(".count")).to_have_text(f"{len(thread)} messages")
    expect(page.locator("#reader .thread-item")).to_have_count(0)
    group.locator(".row-link").click()
    expect(page.locator("#reader .thread-item")).to_have_count(len(thread))
    expect(page.locator("#reader .thread-item").last).to_be_visible()


def test_htmx_opens_messages_without_reloading(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    first = append(services, mail_user, b"From: a@example.org\r\nSubject: First note\r\n\r\nOne\r\n")
    append(services, mail_user, b"From: b@example.org\r\nSubject: Second note\r\n\r\nTwo\r\n")
    sign_in(page, live_server, mail_user)
    page.evaluate("window.__stayed = true")
    expect(page.locator(f'li[data-uid="{first}"]')).to_have_class(re.compile(r"\bunseen\b"))
    page.locator(".row-link", has_text="First note").click()
    expect(page).to_have_url(re.compile(rf"/mail/INBOX/{first}\?uv=\d+$"))
    expect(page.locator("#reader .mail-body-inline")).to_contain_text("One")
    expect(page.locator(f'li[data-uid="{first}"]')).not_to_have_class(re.compile(r"\bunseen\b"))
    expect(page.locator('a[data-folder="INBOX"] .unread')).to_have_text("1")
    page.locator("#reader-flags").get_by_role("button", name="Star", exact=True).click()
    expect(page.locator(f'li[data-uid="{first}"]')).to_have_class(re.compile(r"\bflagged\b"))
    assert page.evaluate("window.__stayed") is True


def test_works_without_javascript(
    browser: Browser, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    for i in range(3):
        append(services, mail_user, f"From: a@example.org\r\nSubject: Plain {i}\r\n\r\nBody {i}\r\n".encode())
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, mail_user)
        page.locator(".row-link", has_text="Plain 1").click()
        expect(page).to_have_url(re.compile(r"/mail/INBOX/\d+\?uv=\d+$"))
        expect(page.locator("#reader .mail-body-inline")).to_contain_text("Body 1")
        page.get_by_role("link", name="Next message").click()
        expect(page.locator("#reader .mail-body-inline")).to_contain_text("Body 0")
        page.get_by_role("button", name="Mark as unread").click()
        expect(page).to_have_url(re.compile(r"/mail/INBOX$"))  # back to the list, still unread
        expect(page.locator("li[data-uid].unseen", has_text="Plain 0")).to_be_visible()
        expect(page.locator('a[data-folder="INBOX"] .unread')).to_have_text("2")
        page.get_by_role("link", name="Conversations").click()
        expect(page).to_have_url(re.compile(r"view=threads"))
        page.locator('a[data-folder="Sent"]').click()
        expect(page.get_by_text("This folder is empty.")).to_be_visible()
    finally:
        context.close()
