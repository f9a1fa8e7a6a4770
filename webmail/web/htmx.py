"""Typed access to the htmx request headers (after django-htmx's HtmxDetails)."""

from __future__ import annotations

from fastapi import Request


class HtmxDetails:
    def __init__(self, request: Request) -> None:
        self.headers = request.headers

    def __bool__(self) -> bool:
        return self.headers.get("HX-Request") == "true" and not self.history_restore_request

    @property
    def boosted(self) -> bool:
        return self.headers.get("HX-Boosted") == "true"

    @property
    def target(self) -> str | None:
        return self.headers.get("HX-Target")

    @property
    def history_restore_request(self) -> bool:
        return self.headers.get("HX-History-Restore-Request") == "true"


def partial_block(request: Request, allowed: dict[str, str]) -> str | None:
    """The block to render for an htmx request, chosen by HX-Target from an allow-list."""
    htmx = HtmxDetails(request)
    if not htmx or htmx.boosted or htmx.target is None:
        return None
    return allowed.get(htmx.target)
