"""Auto-archive rules (/settings/archive): preview, save (typed confirmation for deleting for
good), Run now, Undo of the last moving run, delete."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from webmail.archive.jobs import run_now, spec_of
from webmail.archive.rules import (
    ACTIONS,
    CONFIRM_WORD,
    LAYOUTS,
    check_confirmation,
    parse_rule,
    preview,
    undo,
)
from webmail.errors import FormError
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, ServicesDep, SessionDep
from webmail.web.flash import flash, take_flash
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])


async def page(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep, **extra: Any
) -> Response:
    folders = [f.name for f in await store.list_folders() if f.selectable]
    rules = await anyio.to_thread.run_sync(services.archive_rules.list, session.user)
    context = {
        "session": session,
        "folders": folders,
        "rules": [(rule, spec_of(rule)) for rule in rules],
        "actions": ACTIONS,
        "layouts": LAYOUTS,
        "confirm_word": CONFIRM_WORD,
        "flash": await take_flash(request),
        "form": {},
        "errors": {},
        "preview": None,
        "spec": None,
    }
    context.update(extra)
    return render(request, "pages/archive.html", context, status_code=422 if extra.get("errors") else 200)


@router.get("/settings/archive")
async def show_rules(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    return await page(request, services, session, store)


@router.post("/settings/archive")
async def save_rule(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """``preview`` shows what the rule would take now; ``save`` keeps it."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    folders = [f.name for f in await store.list_folders() if f.selectable]
    try:
        spec = parse_rule(form, folders)
        if form.get("do") == "save":
            check_confirmation(spec, form.get("confirm", ""))
    except FormError as exc:
        return await page(request, services, session, store, form=form, errors={exc.field: exc.user_message})
    if form.get("do") != "save":
        found = await preview(store, spec)
        return await page(request, services, session, store, form=form, preview=found, spec=spec)
    await anyio.to_thread.run_sync(services.archive_rules.add, session.user, spec)
    await flash(request, f"Rule saved. {spec.describe()} It runs daily; Run now runs it at once.")
    return RedirectResponse(url(request, "/settings/archive"), status_code=303)


@router.post("/settings/archive/{rule_id:int}/run")
async def run_rule_now(
    request: Request, services: ServicesDep, session: SessionDep, rule_id: int
) -> Response:
    await anyio.to_thread.run_sync(services.archive_rules.get, session.user, rule_id)
    queued = await anyio.to_thread.run_sync(run_now, services.settings, rule_id)
    await flash(
        request,
        "The rule runs now in the background; reload for its result."
        if queued
        else "This rule is running already.",
    )
    return RedirectResponse(url(request, "/settings/archive"), status_code=303)


@router.post("/settings/archive/{rule_id:int}/undo")
async def undo_last_run(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep, rule_id: int
) -> Response:
    rule = await anyio.to_thread.run_sync(services.archive_rules.get, session.user, rule_id)
    if not rule.last_moves:
        await flash(request, "Nothing to undo: the last run moved nothing, or it was undone already.")
        return RedirectResponse(url(request, "/settings/archive"), status_code=303)
    count = await undo(store, spec_of(rule), rule.last_moves)
    words = f"Undone: {count} message{'' if count == 1 else 's'} back in {rule.folder}."
    await anyio.to_thread.run_sync(services.archive_rules.forget_moves, session.user, rule_id, words)
    await flash(request, words)
    return RedirectResponse(url(request, "/settings/archive"), status_code=303)


@router.post("/settings/archive/{rule_id:int}/delete")
async def delete_rule(request: Request, services: ServicesDep, session: SessionDep, rule_id: int) -> Response:
    await anyio.to_thread.run_sync(services.archive_rules.delete, session.user, rule_id)
    await flash(request, "Rule deleted. Messages it moved stay where they are.")
    return RedirectResponse(url(request, "/settings/archive"), status_code=303)
