from __future__ import annotations

from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from webmail.account.preferences import Preferences
from webmail.web.csrf import csrf_protect
from webmail.web.deps import PreferencesDep, ServicesDep, SessionDep
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])
ZONES = sorted(available_timezones())
THEME_COOKIE = "wm_theme"


def settings_page(
    request: Request,
    session: SessionDep,
    preferences: Preferences,
    *,
    errors: list[str] | None = None,
    saved: bool = False,
) -> Response:
    context = {
        "session": session,
        "preferences": preferences,
        "zones": ZONES,
        "errors": errors or [],
        "saved": saved,
        "undo_default": request.app.state.services.settings.undo_send_seconds,
    }
    return render(request, "pages/settings.html", context, status_code=422 if errors else 200)


@router.get("/settings")
async def show_settings(request: Request, session: SessionDep, preferences: PreferencesDep) -> Response:
    return settings_page(request, session, preferences, saved=request.query_params.get("saved") == "1")


@router.post("/settings")
async def save_settings(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep
) -> Response:
    form = await request.form()
    values = {
        "page_size": form.get("page_size", preferences.page_size),
        "mark_seen": form.get("mark_seen", preferences.mark_seen),
        "mark_seen_delay_seconds": form.get("mark_seen_delay_seconds", preferences.mark_seen_delay_seconds),
        "timezone": form.get("timezone", ""),
        "prefer_html": form.get("prefer_html") == "on",
        "conversations": form.get("conversations") == "on",
        "keyboard_shortcuts": form.get("keyboard_shortcuts") == "on",
        "archive_layout": form.get("archive_layout", preferences.archive_layout),
        "compose_html": form.get("compose_html") == "on",
        "undo_send_seconds": form.get("undo_send_seconds") or None,
        "theme": form.get("theme", preferences.theme),
        "density": form.get("density", preferences.density),
        "swipe_actions": form.get("swipe_actions") == "on",
        "special_folders": preferences.special_folders,  # chosen on the folders page
    }
    try:
        updated = Preferences.model_validate(values)
    except ValidationError as exc:
        labels = {
            "page_size": "Messages per page",
            "mark_seen_delay_seconds": "Delay",
            "timezone": "Time zone",
            "undo_send_seconds": "Undo send",
        }
        errors = [f"{labels.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}" for e in exc.errors()]
        return settings_page(request, session, preferences, errors=errors)
    await services.preferences.save(session.user, updated)
    response = RedirectResponse(url(request, "/settings?saved=1"), status_code=303)
    # Pages without the preferences at hand (sign-in, errors) take the theme from here.
    response.set_cookie(THEME_COOKIE, updated.theme, max_age=365 * 86400, path="/", samesite="lax")
    return response
