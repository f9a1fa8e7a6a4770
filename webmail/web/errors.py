"""One place that turns WebmailError into a page, or a #flash fragment for htmx."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webmail.auth.errors import RateLimitedError, SessionExpiredError
from webmail.errors import FormError, WebmailError
from webmail.imap.errors import CredentialsRejectedError
from webmail.smtp.uploads import FULL as DISK_FULL
from webmail.web.htmx import HtmxDetails, redirect, retarget
from webmail.web.templating import render, url

logger = logging.getLogger(__name__)


def render_error(
    request: Request,
    message: str,
    status_code: int,
    headers: Mapping[str, str] | None = None,
    *,
    field: str | None = None,
) -> Response:
    """The error page, or for htmx the #flash fragment swapped in where the message is shown;
    ``field`` names the form field a FormError is about."""
    context = {"message": message, "status_code": status_code, "field": field}
    if HtmxDetails(request):
        flash = render(request, "partials/_flash.html", context, status_code=status_code, headers=headers)
        return retarget(flash, "#flash")
    session = getattr(request.state, "session", None)  # signed in: the page inside the app's chrome
    page = "pages/error_app.html" if session is not None else "pages/error.html"
    context["session"] = session
    return render(request, page, context, status_code=status_code, headers=headers)


def come_back(request: Request) -> str:
    """``?next=`` for the sign-in page: the page a signed-out browser asked for (a plain GET;
    for htmx the page it shows), to land on after signing in."""
    if request.method != "GET":
        return ""
    target = request.headers.get("hx-current-url", "") if HtmxDetails(request) else str(request.url)
    parts = urlsplit(target)
    if HtmxDetails(request) and parts.netloc != request.url.netloc:
        return ""
    root = request.scope.get("root_path", "")
    path = parts.path[len(root) :] if root and parts.path.startswith(root) else parts.path
    if path in ("", "/", "/mail/INBOX", "/events") or not path.startswith("/"):
        return ""
    return "?" + urlencode({"next": path + (f"?{parts.query}" if parts.query else "")})


async def handle_webmail_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebmailError)
    if isinstance(exc, CredentialsRejectedError):
        session = getattr(request.state, "session", None)
        if session is not None:
            await request.app.state.services.sessions.destroy(session.sid, session.user)
        return redirect(request, url(request, "/login?expired=1"), full_page=True)
    if isinstance(exc, SessionExpiredError):
        return redirect(request, url(request, "/login") + come_back(request), full_page=True)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else {}
    field = exc.field if isinstance(exc, FormError) else None
    return render_error(request, exc.user_message, exc.status_code, headers, field=field)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """A field a route requires is missing or of the wrong type: 422 naming it, as for a FormError
    (instead of FastAPI's JSON)."""
    assert isinstance(exc, RequestValidationError)
    fields = list(dict.fromkeys(str(error["loc"][-1]) for error in exc.errors() if error.get("loc")))
    message = f"This form is incomplete ({', '.join(fields)}); reload the page and try again."
    return render_error(request, message, 422, field=fields[0] if fields else None)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "This page does not exist.", 405: "This action is not allowed here."}
    return render_error(request, messages.get(exc.status_code, str(exc.detail)), exc.status_code, exc.headers)


async def handle_redis_unavailable(request: Request, exc: Exception) -> Response:
    """Redis still gone after the client's retries (a failover that takes longer, a restart):
    the user may try again in a moment, nothing is broken."""
    route = getattr(request.scope.get("route"), "path", "")
    logger.warning("Redis unavailable on %s %s: %s", request.method, route, exc)
    message = "The webmail is briefly unavailable. Please try again in a moment."
    return render_error(request, message, 503, {"Retry-After": "5"})


async def handle_os_error(request: Request, exc: Exception) -> Response:
    """A full disk (or a file past the server's size limit) while receiving a form, before any
    route could keep what it carried: say so instead of a bare 500."""
    assert isinstance(exc, OSError)
    if exc.errno not in DISK_FULL:
        return await handle_unexpected_error(request, exc)
    logger.error("no room on disk on %s %s: %s", request.method, request.url.path, exc)
    message = (
        "The server has no room to store what you sent right now, so nothing was saved or sent. "
        "Go back to find what you wrote, and try again later (or without large attachments)."
    )
    return render_error(request, message, 507)


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render_error(request, "Something went wrong on our side. Please try again.", 500)


async def handle_disconnect(request: Request, exc: Exception) -> Response:
    """The browser went away mid-request (a page left while a draft was being sent): no one to answer."""
    return Response(status_code=400)


class ErrorPageMiddleware:
    """Unexpected exceptions become the 500 page here, inside the security headers' middleware
    (Starlette's own handler for them sits outside every middleware, so its 500 had none)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:  # part of the answer is out: nothing better to do than end it
                raise
            response = await handle_unexpected_error(Request(scope, receive), exc)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, handle_disconnect)
    app.add_exception_handler(WebmailError, handle_webmail_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(redis.ConnectionError, handle_redis_unavailable)
    app.add_exception_handler(redis.TimeoutError, handle_redis_unavailable)
    app.add_exception_handler(redis.ReadOnlyError, handle_redis_unavailable)
    app.add_exception_handler(OSError, handle_os_error)
    # Any other exception: ErrorPageMiddleware, which the app adds inside SecurityHeadersMiddleware.
