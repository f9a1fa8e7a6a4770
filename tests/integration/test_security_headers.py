from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/app.css", "/no-such-page"])
def test_security_headers_everywhere(client: TestClient, path: str) -> None:
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    for directive in ("script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp.split("style-src")[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def assert_no_inline_script(html: str) -> None:
    assert "<script>" not in html
    assert "<script " in html  # the vendored htmx, by src
    assert " on" + "click=" not in html


def test_login_page_has_no_inline_script(client: TestClient) -> None:
    assert_no_inline_script(client.get("/login").text)


def test_mail_page_has_no_inline_script(signed_in: TestClient) -> None:
    assert_no_inline_script(signed_in.get("/mail/INBOX").text)
