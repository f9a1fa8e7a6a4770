from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from webmail.account.preferences import Preferences
from webmail.web.csrf import csrf_protect
from webmail.web.deps import PreferencesDep, ServicesDep, SessionDep
from webmail.web.htmx import HtmxDetails
from webmail.web.templating import app_path, render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])
ZONES = sorted(available_timezones())
THEME_COOKIE = "wm_theme"


# What each section's form sets; the others keep their values. Boxes not ticked are not sent.
SECTION_FIELDS = {
    "general": ("theme", "density", "swipe_actions", "page_size", "mark_seen", "mark_seen_delay_seconds",
                "timezone", "archive_layout"),
    "reading": ("prefer_html", "conversations", "reading_pane", "offline_storage", "offline_messages",
                "offline_size_mb", "offline_attachment_kb", "offline_folders"),
    "writing": ("compose_html", "undo_send_seconds"),
    "keyboard": ("keyboard_shortcuts",),
    "notifications": (),
}  # fmt: skip
CHECKBOXES = {
    "prefer_html",
    "conversations",
    "keyboard_shortcuts",
    "compose_html",
    "swipe_actions",
    "offline_storage",
}
LABELS = {
    "page_size": "Messages per page",
    "mark_seen_delay_seconds": "Delay",
    "timezone": "Time zone",
    "undo_send_seconds": "Undo send",
    "offline_messages": "Messages kept",
    "offline_size_mb": "Space",
    "offline_attachment_kb": "Attachments",
    "offline_folders": "Folders kept offline",
}


def settings_page(
    request: Request,
    session: SessionDep,
    preferences: Preferences,
    section: str = "general",
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    saved: bool = False,
) -> Response:
    context = {
        "session": session,
        "preferences": preferences,
        "section": section,
        "index": app_path(request) == "/settings",
        "zones": ZONES,
        "errors": errors or {},
        "form": form,
        "saved": saved,
        "undo_default": request.app.state.services.settings.undo_send_seconds,
    }
    return render(request, "pages/settings.html", context, status_code=422 if errors else 200)


@router.get("/settings")
async def show_settings(request: Request, session: SessionDep, preferences: PreferencesDep) -> Response:
    return settings_page(request, session, preferences, saved=request.query_params.get("saved") == "1")


async def show_section(request: Request, session: SessionDep, preferences: PreferencesDep) -> Response:
    section = app_path(request).rsplit("/", 1)[-1]
    saved = request.query_params.get("saved") == "1"
    return settings_page(request, session, preferences, section, saved=saved)


def posted_value(form: FormData, name: str, current: Any) -> Any:
    if name in CHECKBOXES:
        return form.get(name) == "on"
    if name == "undo_send_seconds":
        return form.get(name) or None
    if name == "offline_folders":
        return [line.strip() for line in str(form.get(name, "")).splitlines() if line.strip()]
    if name == "timezone":
        return form.get(name, "")
    return form.get(name, current)


async def save(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    preferences: Preferences,
    section: str,
    names: tuple[str, ...],
) -> Response:
    """The section's fields (``names``) over the stored preferences; the form again, with each
    refusal beside its field, when one is out of range."""
    form = await request.form()
    values = preferences.model_dump()
    values.update({name: posted_value(form, name, values[name]) for name in names})
    try:
        updated = Preferences.model_validate(values)
    except ValidationError as exc:
        errors = {
            str(e["loc"][0]): f"{LABELS.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}"
            for e in exc.errors()
        }
        kept = {name: form.get(name) for name in names}
        return settings_page(request, session, preferences, section, errors=errors, form=kept)
    await services.preferences.save(session.user, updated)
    if HtmxDetails(request):
        response = settings_page(request, session, updated, section, saved=True)
    else:
        where = (
            "/settings"
            if section == "general" and app_path(request) == "/settings"
            else f"/settings/{section}"
        )
        response = RedirectResponse(url(request, f"{where}?saved=1"), status_code=303)
    # Pages without the preferences at hand (sign-in, errors) take the theme from here.
    response.set_cookie(THEME_COOKIE, updated.theme, max_age=365 * 86400, path="/", samesite="lax")
    return response


@router.post("/settings")
async def save_settings(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep
) -> Response:
    """The whole form of before the sections (every field; a box not sent is off)."""
    names = tuple(name for fields in SECTION_FIELDS.values() for name in fields)
    return await save(request, services, session, preferences, "general", names)


async def save_section(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep
) -> Response:
    section = app_path(request).rsplit("/", 1)[-1]
    return await save(request, services, session, preferences, section, SECTION_FIELDS[section])


# One route each (not /settings/{section}, which would take /settings/folders from its router).
for _section in SECTION_FIELDS:
    router.add_api_route(f"/settings/{_section}", show_section, methods=["GET"])
    router.add_api_route(f"/settings/{_section}", save_section, methods=["POST"])
