"""A person's session through nginx under /webmail (deploy/nginx.conf, HTTP/2, TLS) with the app on
PostgreSQL: sign in, read, a live update, flags through htmx, sign out; nothing the browser loads
fails and nothing leaves the sub-path."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, Response, expect

from tests.conftest import ROOT_PATH, MailUser, ProxiedApp
from tests.e2e.conftest import sign_in
from tests.e2e.test_live_updates import LIVE, wait_for_stream, watch_sse
from tests.e2e.test_reading import append
from webmail.devservices import DevServices


@pytest.fixture
def proxied_page(browser: Browser, proxied: ProxiedApp) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(ignore_https_errors=True)  # nginx's certificate is self-signed
    page = context.new_page()
    problems: list[str] = []

    def check_request(request: Request) -> None:
        url = request.url
        if url.startswith(proxied.origin) and not url.startswith(proxied.url + "/"):
            problems.append(f"outside {ROOT_PATH}: {request.method} {url}")

    def check_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"{response.status} {response.request.method} {response.url}")

    page.on("request", check_request)
    page.on("response", check_response)

    def check_failure(request: Request) -> None:
        if request.failure != "net::ERR_ABORTED":  # streams and pages left behind by a navigation
            problems.append(f"failed {request.url}: {request.failure}")

    page.on("requestfailed", check_failure)
    # Chromium registers no service worker over a certificate it does not trust (nginx's here is
    # self-signed, ignore_https_errors or not): the app works on without one, and says so only there.
    untrusted_worker = "An SSL certificate error occurred when fetching the script."
    page.on(
        "console",
        lambda message: (
            message.type == "error" and message.text != untrusted_worker and problems.append(message.text)
        ),
    )
    try:
        yield page, problems
    finally:
        context.close()


def test_a_session_through_nginx_under_the_sub_path(
    proxied_page: tuple[Page, list[str]], proxied: ProxiedApp, services: DevServices, mail_user: MailUser
) -> None:
    page, problems = proxied_page
    first = append(
        services, mail_user, b"From: a@example.org\r\nSubject: Proxied note\r\n\r\nThrough nginx\r\n"
    )
    watch_sse(page)
    sign_in(page, proxied.url, mail_user)
    expect(page).to_have_url(f"{proxied.url}/mail/INBOX")
    assert page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
    wait_for_stream(page, proxied.settings, mail_user)

    page.locator(".row-link", has_text="Proxied note").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(proxied.url)}/mail/INBOX/{first}\?uv=\d+$"))
    expect(page.locator("#reader")).to_contain_text("Through nginx")
    expect(page.locator(f'li[data-uid="{first}"]')).not_to_have_class(re.compile(r"\bunseen\b"))

    live = append(services, mail_user, b"From: b@example.org\r\nSubject: Live via nginx\r\n\r\nhi\r\n")
    expect(page.locator(f'#message-list li[data-uid="{live}"]')).to_contain_text(
        "Live via nginx", timeout=LIVE
    )

    page.locator('a[data-folder="Sent"]').click()
    expect(page).to_have_url(f"{proxied.url}/mail/Sent")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{proxied.url}/login")
    assert not problems, problems
