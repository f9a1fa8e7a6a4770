from __future__ import annotations

import json

from fastapi import Response
from starlette.requests import Request

from webmail.web.errors import render_error
from webmail.web.htmx import HtmxDetails, partial_block, redirect, retarget, trigger

HTMX = {"HX-Request": "true"}


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": b""})


def test_plain_request_is_not_htmx() -> None:
    assert not HtmxDetails(request({}))
    assert partial_block(request({}), {"main": "main"}) is None


def test_htmx_target_picks_an_allowed_block() -> None:
    req = request({"HX-Request": "true", "HX-Target": "main"})
    assert partial_block(req, {"main": "main"}) == "main"
    assert partial_block(req, {"other": "other"}) is None


def test_history_restore_and_boosted_get_full_pages() -> None:
    restore = request({"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Target": "main"})
    boosted = request({"HX-Request": "true", "HX-Boosted": "true", "HX-Target": "main"})
    assert partial_block(restore, {"main": "main"}) is None
    assert partial_block(boosted, {"main": "main"}) is None


class TestRedirect:
    def test_plain_request_gets_303(self) -> None:
        response = redirect(request({}), "/mail/INBOX")
        assert response.status_code == 303
        assert response.headers["location"] == "/mail/INBOX"
        assert "HX-Location" not in response.headers

    def test_htmx_gets_hx_location(self) -> None:
        response = redirect(request(HTMX), "/mail/INBOX/7")
        assert response.status_code == 204
        assert response.headers["HX-Location"] == "/mail/INBOX/7"
        assert "location" not in response.headers

    def test_full_page_uses_hx_redirect(self) -> None:
        response = redirect(request(HTMX), "/login", full_page=True)
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/login"
        assert "HX-Location" not in response.headers

    def test_history_restore_is_a_plain_request(self) -> None:
        restore = request({**HTMX, "HX-History-Restore-Request": "true"})
        assert redirect(restore, "/login", full_page=True).status_code == 303


def test_retarget_sets_target_and_swap() -> None:
    response = retarget(Response(), "#flash")
    assert response.headers["HX-Retarget"] == "#flash"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert retarget(Response(), "#reader", swap="outerHTML").headers["HX-Reswap"] == "outerHTML"


def test_trigger_events_add_up() -> None:
    response = trigger(Response(), "mailbox-changed")
    trigger(response, "toast", {"text": "Moved <1> message"})
    assert json.loads(response.headers["HX-Trigger"]) == {
        "mailbox-changed": {},
        "toast": {"text": "Moved <1> message"},
    }


class TestRenderError:
    def test_htmx_gets_the_flash_fragment_in_flash(self) -> None:
        response = render_error(request(HTMX), "Folder <gone>", 404, {"Retry-After": "5"})
        assert response.status_code == 404
        assert response.headers["HX-Retarget"] == "#flash"
        assert response.headers["HX-Reswap"] == "innerHTML"
        assert response.headers["Retry-After"] == "5"
        assert bytes(response.body).startswith(
            b'<p class="flash-message flash-error">Folder &lt;gone&gt;</p>'
        )

    def test_plain_request_gets_the_error_page(self) -> None:
        response = render_error(request({}), "Folder gone", 404)
        assert response.status_code == 404
        assert "HX-Retarget" not in response.headers
        assert b"<h1>Folder gone</h1>" in bytes(response.body)
