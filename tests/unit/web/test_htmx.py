from __future__ import annotations

from starlette.requests import Request

from webmail.web.htmx import HtmxDetails, partial_block


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
