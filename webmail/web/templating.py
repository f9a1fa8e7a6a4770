"""Jinja2 templates (autoescaped), with block rendering for htmx partials."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from functools import cache, lru_cache
from typing import Any

from fastapi import Request, Response
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from jinja2_fragments import render_block
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup

from webmail.config import PROJECT_ROOT
from webmail.mail.tags import LABELS, tags_of
from webmail.web import rows
from webmail.web.formatting import (
    full_date,
    highlight,
    hue,
    human_size,
    initials,
    list_date,
    message_date,
    names,
    participants,
    recipients,
    relative_date,
)
from webmail.web.offline import OFFLINE_KEY_HEADER, request_offline_key, static_version
from webmail.web.settings_nav import SECTIONS, current_section

STATIC_DIR = PROJECT_ROOT / "static"
# Templates ship with the release: not checked for changes on every render (a stat per template).
templates = Jinja2Blocks(
    env=Environment(loader=FileSystemLoader(PROJECT_ROOT / "templates"), autoescape=True, auto_reload=False)
)


@cache
def _static_version(path: str) -> str:
    file = STATIC_DIR / path
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "0"


def static_url(request: Request, path: str) -> str:
    """A cache-busting URL for a file under static/."""
    return _static_href(request.scope.get("root_path", ""), path)


def _static_href(root_path: str, path: str) -> str:
    return f"{root_path}/static/{path}?v={_static_version(path)}"


@pass_context
def icon(context: Context, name: str, size: int = 18) -> Markup:
    """An icon from the sprite (static/icons.svg). The CSS sizes it: .icon is 18 px, [width] picks
    another size (14, 16, 20, 24, 40, 48), so the default size writes no width and none a height."""
    return _icon(context["request"].scope.get("root_path", ""), name, size)


@lru_cache(maxsize=1024)
def _icon(root_path: str, name: str, size: int) -> Markup:
    # A template function, not a macro: a page draws dozens, and a macro call costs Jinja a
    # context and an escape per value (the reader's 24 icons were a third of its rendering).
    href = f"{_static_href(root_path, 'icons.svg')}#{name}"
    if size == 18:
        return Markup('<svg class="icon icon-{}" aria-hidden="true"><use href="{}"/></svg>').format(
            name, href
        )
    return Markup('<svg class="icon icon-{}" aria-hidden="true" width="{}"><use href="{}"/></svg>').format(
        name, size, href
    )


@pass_context
def csrf_input(context: Context) -> Markup:
    """The hidden CSRF field of a form: the session's token, or the sign-in page's
    (``csrf_token``). A function, not an imported macro: each ``import ... with context`` ran
    the macro file again, four times for a reader."""
    session = context.get("session")
    token = session.csrf_token if session else context.get("csrf_token", "")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


def url(request: Request, path: str) -> str:
    """An app URL with the configured root path (``WEBMAIL_ROOT_PATH``)."""
    return f"{request.scope.get('root_path', '')}{path}"


def app_path(request: Request) -> str:
    """The request's path inside the app (without the root path)."""
    root, path = request.scope.get("root_path", ""), request.url.path
    return path[len(root) :] if root and path.startswith(root) else path


def settings_section(request: Request) -> str:
    return current_section(app_path(request))


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def vacation_notice(request: Request) -> tuple[Any, bool] | None:
    """The vacation reply the request found (web.deps.note_vacation) and whether it answers
    today; None when it is off or over."""
    vacation = getattr(request.state, "vacation", None)
    today = date.today()
    if vacation is None or (vacation.end is not None and vacation.end < today):
        return None
    return vacation, vacation.active_on(today)


templates.env.globals["static_url"] = static_url
templates.env.globals["icon"] = icon
templates.env.globals["csrf_input"] = csrf_input
templates.env.globals["vacation_notice"] = vacation_notice
templates.env.globals["url"] = url
templates.env.globals["settings_sections"] = SECTIONS
templates.env.globals["settings_section"] = settings_section
templates.env.globals["app_path"] = app_path
templates.env.globals["offline_key"] = request_offline_key
templates.env.globals["static_version"] = static_version
templates.env.filters["count"] = count
templates.env.filters["listdate"] = list_date
templates.env.filters["fulldate"] = full_date
templates.env.filters["filesize"] = human_size
templates.env.filters["names"] = names
templates.env.filters["highlight"] = highlight
templates.env.filters["tags"] = tags_of
templates.env.filters["reldate"] = relative_date
templates.env.filters["messagedate"] = message_date
templates.env.filters["initials"] = initials
templates.env.filters["hue"] = hue
templates.env.filters["participants"] = participants
templates.env.filters["recipients"] = recipients
templates.env.globals["LABELS"] = LABELS
rows.install(templates.env)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    block_name: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response: Response = templates.TemplateResponse(
        request, name, context, status_code=status_code, block_name=block_name, headers=headers
    )
    response.headers["Vary"] = "HX-Request"
    key = request_offline_key(request)
    preferences = context.get("preferences")
    if key and getattr(preferences, "offline_storage", True):
        # The service worker files a signed-in user's pages under this key (web/offline.py).
        response.headers[OFFLINE_KEY_HEADER] = key
    return response


def fragment(request: Request, name: str, block_name: str | None = None, **context: Any) -> str:
    """A template, or one block of it, as autoescaped HTML text: for fragments that are not a
    response of their own, such as the data of a Server-Sent Event."""
    if block_name is None:
        return templates.get_template(name).render(request=request, **context)
    return render_block(templates.env, name, block_name, request=request, **context)
