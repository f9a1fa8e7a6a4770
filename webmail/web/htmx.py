"""htmx on both sides: typed request headers (after django-htmx's HtmxDetails) and the response helpers.

Every ``HX-*`` response header the app sends is written here, so a change of htmx version (htmx 4
renames some of them) is made in one file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse


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


def redirect(request: Request, destination: str, *, full_page: bool = False) -> Response:
    """Send the browser to ``destination``: a 303 for a plain request; for htmx a 204 with
    HX-Location (htmx fetches it and pushes it to the history), or with ``full_page`` HX-Redirect
    (a whole new page load, for where the layout changes, such as the sign-in page)."""
    if HtmxDetails(request):
        header = "HX-Redirect" if full_page else "HX-Location"
        return Response(status_code=204, headers={header: destination})
    return RedirectResponse(destination, status_code=303)


def retarget(response: Response, target: str, *, swap: str = "innerHTML") -> Response:
    """Swap this response into ``target`` (a CSS selector) instead of the requesting element's target;
    errors go to ``#flash`` this way."""
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = swap
    return response


def trigger(response: Response, event: str, detail: Mapping[str, Any] | None = None) -> Response:
    """Fire ``event`` in the browser when htmx receives the response (HX-Trigger); calls add up."""
    events = json.loads(response.headers.get("HX-Trigger", "{}"))
    events[event] = dict(detail or {})
    response.headers["HX-Trigger"] = json.dumps(events)
    return response
