"""CSRF protection: a session-bound token for signed-in users, a cookie-bound one for sign-in.

htmx sends the token as ``X-CSRF-Token`` (from ``hx-headers`` on ``<body>``), plain forms as
the ``csrf_token`` field. Cross-site requests are also refused by Origin/Sec-Fetch-Site.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request

from webmail.auth.errors import CSRFError, SessionExpiredError
from webmail.web.deps import get_optional_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_CSRF_COOKIE = "wm_login_csrf"
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"


async def submitted_token(request: Request) -> str:
    token = request.headers.get(HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(FIELD)
        return value if isinstance(value, str) else ""
    return ""


def check_origin(request: Request) -> None:
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CSRFError()
    origin = request.headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc != request.headers.get("host", request.url.netloc):
            raise CSRFError()


def tokens_match(expected: str | None, submitted: str) -> bool:
    return bool(expected) and bool(submitted) and secrets.compare_digest(expected or "", submitted)


async def csrf_protect(request: Request) -> None:
    """Router dependency: every unsafe method needs the signed-in session's token."""
    if request.method in SAFE_METHODS:
        return
    check_origin(request)
    session = await get_optional_session(request)
    if session is None:
        raise SessionExpiredError()
    if not tokens_match(session.csrf_token, await submitted_token(request)):
        raise CSRFError()


async def login_csrf_protect(request: Request) -> None:
    """For POST /login, where no session exists yet: the token must equal its cookie."""
    check_origin(request)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), await submitted_token(request)):
        raise CSRFError()


def new_token() -> str:
    return secrets.token_urlsafe(32)
