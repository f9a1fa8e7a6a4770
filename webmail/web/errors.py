"""One place that turns WebmailError into a page, or a #flash fragment for htmx."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from webmail.auth.errors import RateLimitedError, SessionExpiredError
from webmail.errors import WebmailError
from webmail.imap.errors import CredentialsRejectedError
from webmail.web.htmx import HtmxDetails
from webmail.web.templating import render, url

logger = logging.getLogger(__name__)


async def handle_webmail_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebmailError)
    htmx = HtmxDetails(request)
    if isinstance(exc, CredentialsRejectedError):
        session = getattr(request.state, "session", None)
        if session is not None:
            await request.app.state.services.sessions.destroy(session.sid)
        exc = SessionExpiredError(exc.user_message)
        login = url(request, "/login?expired=1")
        if htmx:
            return Response(status_code=204, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)
    if isinstance(exc, SessionExpiredError):
        login = url(request, "/login")
        if htmx:
            return Response(status_code=204, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    context = {"message": exc.user_message, "status_code": exc.status_code}
    if htmx:
        headers.update({"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
        return render(request, "partials/_flash.html", context, status_code=exc.status_code, headers=headers)
    return render(request, "pages/error.html", context, status_code=exc.status_code, headers=headers)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "This page does not exist.", 405: "This action is not allowed here."}
    message = messages.get(exc.status_code, str(exc.detail))
    context = {"message": message, "status_code": exc.status_code}
    if HtmxDetails(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return render(request, "partials/_flash.html", context, status_code=exc.status_code, headers=headers)
    return render(request, "pages/error.html", context, status_code=exc.status_code, headers=exc.headers)


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    context = {"message": "Something went wrong on our side. Please try again.", "status_code": 500}
    if HtmxDetails(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return render(request, "partials/_flash.html", context, status_code=500, headers=headers)
    return render(request, "pages/error.html", context, status_code=500)


async def handle_disconnect(request: Request, exc: Exception) -> Response:
    """The browser went away mid-request (a page left while a draft was being sent): no one to answer."""
    return Response(status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, handle_disconnect)
    app.add_exception_handler(WebmailError, handle_webmail_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
