"""The app under /webmail behind Debian's nginx running the project's deploy/nginx.conf: TLS and
HTTP/2, every URL under the sub-path, cookies scoped to it, big uploads, live events unbuffered."""

from __future__ import annotations

import html
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy

import httpx2 as httpx
import pytest
from imapclient import IMAPClient

from tests.conftest import ROOT_PATH, MailUser, ProxiedApp, session_token, sign_in
from webmail.devservices import DevServices
from webmail.devservices.nginx import DEPLOY_CONFIG, TEMPLATE_NAME

URL_ATTRIBUTE = re.compile(r'\s(href|src|action|hx-get|hx-post|sse-connect|data-url|data-upload)="([^"]*)"')


def client_for(app: ProxiedApp) -> httpx.Client:
    return httpx.Client(
        base_url=app.url,
        verify=ssl.create_default_context(cafile=str(app.nginx.certificate)),
        headers={"Origin": app.origin},  # as a browser sends it with every POST
        follow_redirects=False,
        timeout=60,
    )


@pytest.fixture
def through_nginx(proxied: ProxiedApp, mail_user: MailUser) -> Iterator[httpx.Client]:
    with client_for(proxied) as client:
        response = sign_in(client, mail_user)  # type: ignore[arg-type]
        assert response.status_code == 303, response.text
        yield client


def app_urls(page: str) -> list[str]:
    """Every URL the page links to, posts to, loads or streams from, except other sites'."""
    found = [html.unescape(value) for _, value in URL_ATTRIBUTE.findall(page)]
    return [value for value in found if not value.startswith(("#", "mailto:", "https://", "http://"))]


def assert_under_root(page: str) -> None:
    urls = app_urls(page)
    assert urls, "the page has no links"
    outside = [value for value in urls if not value.startswith(ROOT_PATH + "/") and value != ROOT_PATH]
    assert not outside, f"URLs outside {ROOT_PATH}: {outside[:10]}"
    assert f'data-root="{ROOT_PATH}"' in page


def deliver(services: DevServices, user: MailUser, raw: bytes) -> int:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    response = imap.append("INBOX", raw)
    imap.logout()
    return int(re.search(rb"APPENDUID \d+ (\d+)", response).group(1))  # type: ignore[union-attr]


def test_the_template_is_complete() -> None:
    text = DEPLOY_CONFIG.read_text()
    header = text.split("\nupstream", 1)[0]
    for name in set(TEMPLATE_NAME.findall(text)):
        assert name in header, f"{name} is used but not explained at the top of {DEPLOY_CONFIG}"


def test_tls_with_http2(proxied: ProxiedApp) -> None:
    context = ssl.create_default_context(cafile=str(proxied.nginx.certificate))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", proxied.nginx.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"
    plain = httpx.get(f"http://127.0.0.1:{proxied.nginx.http_port}{ROOT_PATH}/login")
    assert plain.status_code == 308
    assert plain.headers["location"] == f"https://127.0.0.1{ROOT_PATH}/login"


def test_sign_in_list_and_open_under_the_sub_path(
    proxied: ProxiedApp, services: DevServices, mail_user: MailUser
) -> None:
    uid = deliver(
        services, mail_user, b"From: Ann <ann@example.org>\r\nSubject: Through nginx\r\n\r\nhello\r\n"
    )
    with client_for(proxied) as client:
        start = client.get("/")
        assert start.status_code == 303
        assert start.headers["location"] == f"{ROOT_PATH}/mail/INBOX"
        assert client.get("/mail/INBOX").headers["location"] == f"{ROOT_PATH}/login"
        login_page = client.get("/login")
        assert_under_root(login_page.text)
        login_cookie = login_page.headers["set-cookie"]
        assert f"Path={ROOT_PATH}/login" in login_cookie
        assert "Secure" in login_cookie  # https, as nginx told the app

        signed = sign_in(client, mail_user)  # type: ignore[arg-type]
        assert signed.status_code == 303
        assert signed.headers["location"] == f"{ROOT_PATH}/mail/INBOX"
        session_cookie = next(v for v in signed.headers.get_list("set-cookie") if v.startswith("wm_session="))
        assert f"Path={ROOT_PATH}/" in session_cookie
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie
        assert signed.headers["strict-transport-security"].startswith("max-age=")

        listing = client.get("/mail/INBOX")
        assert listing.status_code == 200
        assert "Through nginx" in listing.text
        assert_under_root(listing.text)
        assert f'href="{ROOT_PATH}/mail/INBOX/{uid}' in listing.text

        reading = client.get(f"/mail/INBOX/{uid}")
        assert reading.status_code == 200
        assert "hello" in client.get(f"/mail/INBOX/{uid}/body").text
        assert_under_root(reading.text)

        static = re.search(r'src="([^"]*/static/app\.js\?v=\w+)"', listing.text)
        assert static, "no versioned app.js"
        served = client.get(proxied.origin + static.group(1))
        assert served.status_code == 200
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "appURL" in served.text

        signed_out = client.post("/logout", data={"csrf_token": session_token(client)})  # type: ignore[arg-type]
        assert signed_out.headers["location"] == f"{ROOT_PATH}/login?signed_out=1"
        assert client.get("/mail/INBOX").status_code == 303


def test_send_an_attachment_near_the_limit(
    proxied: ProxiedApp, through_nginx: httpx.Client, services: DevServices, mail_user: MailUser
) -> None:
    limit = proxied.settings.max_attachment_mb * 1024 * 1024
    big = bytes(range(256)) * ((limit - 64 * 1024) // 256)
    form = {"csrf_token": session_token(through_nginx), "to": "far@example.org", "subject": "Big one", "body": "see attached"}  # type: ignore[arg-type]  # fmt: skip
    sent = through_nginx.post(
        "/compose/send", data=form, files={"attachments": ("big.bin", big, "application/octet-stream")}
    )
    assert sent.status_code == 303, sent.text[:500]
    assert sent.headers["location"].startswith(f"{ROOT_PATH}/mail/INBOX")
    envelope = next(m for m in reversed(services.smtp.messages) if "far@example.org" in m.rcpt_tos)
    attachment = next(message_from_bytes(envelope.content, policy=policy.default).iter_attachments())
    assert attachment.get_content() == big

    # Just over the limit still reaches the app (nginx allows the form around it), which says so.
    over = bytes(limit + 1)
    refused = through_nginx.post("/compose/send", data={**form, "csrf_token": session_token(through_nginx)},  # type: ignore[arg-type]
                                 files={"attachments": ("over.bin", over, "application/octet-stream")})  # fmt: skip
    assert refused.status_code == 422
    assert f"Attachments may be {proxied.settings.max_attachment_mb} MB in all" in html.unescape(refused.text)


def test_live_events_arrive_unbuffered(
    through_nginx: httpx.Client, services: DevServices, mail_user: MailUser
) -> None:
    opened = threading.Event()
    arrived = threading.Event()

    def listen() -> None:
        try:
            with through_nginx.stream("GET", "/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                opened.set()
                for line in response.iter_lines():
                    if "Pushed" in line:
                        arrived.set()
                        return
        except httpx.HTTPError:
            pass  # the test is over and closed the client

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(10), "the stream did not open"
    time.sleep(1)  # the watcher takes its first look at the mailbox
    deliver(services, mail_user, b"From: Bo <bo@example.org>\r\nSubject: Pushed\r\n\r\nlive\r\n")
    assert arrived.wait(5), "no event within 5 s through nginx"


def test_nginx_writes_no_errors(proxied: ProxiedApp) -> None:
    check = subprocess.run(
        ["nginx", "-t", "-p", str(proxied.nginx.root), "-c", str(proxied.nginx.root / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "[emerg]" not in proxied.nginx.log()
