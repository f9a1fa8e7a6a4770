from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from webmail.auth.devices import DEVICE_COOKIE, DEVICE_MAX_AGE_SECONDS
from webmail.auth.errors import RateLimitedError
from webmail.config import DEMO_USERS
from webmail.errors import WebmailError
from webmail.web.csrf import LOGIN_CSRF_COOKIE, csrf_protect, login_csrf_protect, new_token
from webmail.web.deps import SESSION_COOKIE, OptionalSessionDep, ServicesDep, client_ip
from webmail.web.templating import render, url

router = APIRouter()


def safe_next(value: str) -> str:
    """Where to go after signing in: a path of this app (``/mail/Archive?page=2``), never another
    site (``//evil.example``, ``https://…``, ``/\\evil.example``) nor the sign-in pages again."""
    if not value.startswith("/") or value.startswith(("//", "/\\")) or len(value) > 2000:
        return ""
    if any(ord(char) < 32 for char in value) or "\\" in value:
        return ""
    path = urlsplit(value)
    if path.scheme or path.netloc or path.path in ("/login", "/logout"):
        return ""
    return value


def login_page(
    request: Request,
    *,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
    next_path: str = "",
    signed_out: bool = False,
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    settings = request.app.state.services.settings
    context = {
        "error": error,
        "username": username,
        "csrf_token": token,
        "next": next_path,
        "signed_out": signed_out,
        "demo": DEMO_USERS[0] if settings.demo else None,
    }
    response = render(request, "pages/login.html", context, status_code=status_code)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=url(request, "/login"),
    )
    return response


@router.get("/login")
async def show_login(request: Request, session: OptionalSessionDep) -> Response:
    next_path = safe_next(request.query_params.get("next", ""))
    if session is not None:
        return RedirectResponse(url(request, next_path or "/mail/INBOX"), status_code=303)
    expired = request.query_params.get("expired") == "1"
    return login_page(
        request,
        error="Your password no longer works here. Please sign in again." if expired else None,
        next_path=next_path,
        signed_out=request.query_params.get("signed_out") == "1",
    )


@router.post("/login", dependencies=[Depends(login_csrf_protect)])
async def sign_in(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "",
) -> Response:
    next_path = safe_next(next_path)
    try:
        signed_in = await services.login.sign_in(
            username, password, client_ip(request), request.cookies.get(DEVICE_COOKIE)
        )
    except RateLimitedError as exc:
        response = login_page(
            request, error=exc.user_message, username=username, status_code=429, next_path=next_path
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except WebmailError as exc:
        return login_page(
            request,
            error=exc.user_message,
            username=username,
            status_code=exc.status_code,
            next_path=next_path,
        )
    settings = services.settings
    response = RedirectResponse(url(request, next_path or "/mail/INBOX"), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.cookie,
        max_age=settings.session_max_seconds,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=url(request, "/") if settings.root_path else "/",
    )
    response.set_cookie(
        DEVICE_COOKIE,
        signed_in.device,
        max_age=DEVICE_MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=url(request, "/login"),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=url(request, "/login"))
    return response


@router.post("/logout", dependencies=[Depends(csrf_protect)])
async def sign_out(request: Request, services: ServicesDep, session: OptionalSessionDep) -> Response:
    if session is not None:
        await services.login.sign_out(session)
    response = RedirectResponse(url(request, "/login?signed_out=1"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=url(request, "/") if services.settings.root_path else "/")
    return response
