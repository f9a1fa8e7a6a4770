"""/settings/accounts: external POP3 accounts, their status, Test connection and Fetch now."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from webmail.auth.sessions import Session
from webmail.db.models import POP3Account
from webmail.pop3.form import DEFAULT_PORTS, AccountForm
from webmail.web.csrf import csrf_protect
from webmail.web.deps import PreferencesDep, ServicesDep, SessionDep
from webmail.web.forms import posted_fields
from webmail.web.htmx import HtmxDetails
from webmail.web.listing import user_zone
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

SECURITY_CHOICES = [
    ("tls", "POP3S: encrypted from the start (port 995)"),
    ("starttls", "STARTTLS: plain connection made secure (port 110)"),
    ("none", "None (only where the operator allows it)"),
]


async def _form_page(
    request: Request,
    services: ServicesDep,
    session: Session,
    form: AccountForm,
    *,
    account: POP3Account | None = None,
    errors: dict[str, str] | None = None,
    test: Any = None,
    tz: Any = None,
) -> Response:
    context = {
        "session": session,
        "form": form,
        "account": account,
        "errors": errors or {},
        "test": test,
        "security_choices": SECURITY_CHOICES,
        "default_ports": DEFAULT_PORTS,
        "master_user": services.settings.uses_master_user,
        "settings": services.settings,
        "history": await services.pop3.history(account.id) if account else [],
        "progress": (await services.pop3.progress([account.id])).get(account.id) if account else None,
        "pending": bool(account and await services.pop3.pending([account.id])),
        "saved": request.query_params.get("saved") == "1",
        "tz": tz,
    }
    return render(request, "pages/account_form.html", context, status_code=422 if errors else 200)


@router.get("/settings/accounts")
async def list_accounts(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep
) -> Response:
    accounts = await services.pop3.of_user(session.user)
    context = {
        "session": session,
        "accounts": accounts,
        "progress": await services.pop3.progress([a.id for a in accounts]),
        "pending": await services.pop3.pending([a.id for a in accounts]),
        "enabled": services.settings.pop3_enabled,
        "limit": services.settings.pop3_max_accounts_per_user,
        "deleted": request.query_params.get("deleted") == "1",
        "tz": user_zone(request, preferences),
    }
    return render(request, "pages/accounts.html", context)


@router.get("/settings/accounts/new")
async def new_account(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = AccountForm.defaults(services.settings)
    consent = await services.pop3.has_consented(session.user)
    return await _form_page(request, services, session, replace(form, consent=consent))


@router.post("/settings/accounts")
async def create_account(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form, errors = AccountForm.parse(await posted_fields(request), services.settings, editing=False)
    if errors:
        return await _form_page(request, services, session, form, errors=errors)
    account = await services.pop3.create(session.user, session.password, form)
    await services.pop3.fetch_now(session.user, account.id)
    return RedirectResponse(url(request, f"/settings/accounts/{account.id}?saved=1"), status_code=303)


@router.post("/settings/accounts/test")
async def test_connection(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    raw = await posted_fields(request)
    account_id = raw.get("account_id", "")
    stored = await services.pop3.get(session.user, int(account_id)) if account_id.isdigit() else None
    form, errors = AccountForm.parse(raw, services.settings, editing=stored is not None)
    errors.pop("consent", None)  # not needed to try the connection
    if errors:
        result = None
    else:
        result = await services.pop3.test(session.user, form, stored)
    if HtmxDetails(request):
        return render(
            request,
            "pages/account_form.html",
            {"test": result, "errors": errors, "only_result": True},
            block_name="test_result",
        )
    return await _form_page(request, services, session, form, account=stored, errors=errors, test=result)


@router.get("/settings/accounts/{account_id:int}")
async def edit_account(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep, account_id: int
) -> Response:
    account = await services.pop3.get(session.user, account_id)
    consent = await services.pop3.has_consented(session.user)
    form = AccountForm.of(account, consent=consent)
    return await _form_page(
        request, services, session, form, account=account, tz=user_zone(request, preferences)
    )


@router.post("/settings/accounts/{account_id:int}")
async def update_account(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep, account_id: int
) -> Response:
    account = await services.pop3.get(session.user, account_id)
    form, errors = AccountForm.parse(await posted_fields(request), services.settings, editing=True)
    if errors:
        tz = user_zone(request, preferences)
        return await _form_page(request, services, session, form, account=account, errors=errors, tz=tz)
    await services.pop3.update(session.user, session.password, account_id, form)
    return RedirectResponse(url(request, f"/settings/accounts/{account_id}?saved=1"), status_code=303)


@router.get("/settings/accounts/{account_id:int}/status")
async def account_status(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep, account_id: int
) -> Response:
    account = await services.pop3.get(session.user, account_id)
    context = {
        "account": account,
        "progress": (await services.pop3.progress([account_id])).get(account_id),
        "pending": bool(await services.pop3.pending([account_id])),
        "history": await services.pop3.history(account_id),
        "tz": user_zone(request, preferences),
        "session": session,
    }
    return render(request, "pages/account_form.html", context, block_name="status")


@router.post("/settings/accounts/{account_id:int}/fetch")
async def fetch_now(
    request: Request, services: ServicesDep, session: SessionDep, account_id: int
) -> Response:
    queued = await services.pop3.fetch_now(session.user, account_id)
    state = "1" if queued else "already"
    return RedirectResponse(url(request, f"/settings/accounts/{account_id}?queued={state}"), status_code=303)


@router.get("/settings/accounts/{account_id:int}/delete")
async def confirm_delete(
    request: Request, services: ServicesDep, session: SessionDep, account_id: int
) -> Response:
    account = await services.pop3.get(session.user, account_id)
    return render(request, "pages/account_delete.html", {"session": session, "account": account})


@router.post("/settings/accounts/{account_id:int}/delete")
async def delete_account(
    request: Request, services: ServicesDep, session: SessionDep, account_id: int
) -> Response:
    await services.pop3.delete(session.user, account_id)
    return RedirectResponse(url(request, "/settings/accounts?deleted=1"), status_code=303)
