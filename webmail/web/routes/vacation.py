"""/settings/vacation and /settings/forwarding: the vacation reply and forwarding of all mail,
kept in the same Sieve script as the filters (webmail.sieve)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from webmail.auth.sessions import Session
from webmail.sieve.errors import RuleError, ScriptRejectedError
from webmail.sieve.rules import FilterSet
from webmail.sieve.service import SieveAccount
from webmail.sieve.vacation import ADDRESS, Forwarding, Vacation
from webmail.web.csrf import csrf_protect
from webmail.web.deps import ServicesDep, SessionDep, SieveAccountDep
from webmail.web.filter_forms import form_version
from webmail.web.forms import form_fields, form_list
from webmail.web.htmx import redirect
from webmail.web.routes.filters import sieve_context
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])
SAVED = {"vacation": "Vacation reply saved.", "forwarding": "Forwarding saved."}


async def own_addresses(services: ServicesDep, session: Session) -> tuple[str, ...]:
    """The addresses a vacation reply answers for: the user's identities (and login)."""
    emails = [identity.email for identity in await services.identities.for_user(session.user)]
    return tuple(dict.fromkeys(e for e in [*emails, session.user] if ADDRESS.match(e)))


async def vacation_page(
    request: Request,
    services: ServicesDep,
    session: Session,
    account: SieveAccount,
    *,
    vacation: Vacation | None = None,
    forwarding: Forwarding | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    context, state = await sieve_context(request, services, session, account, saved=SAVED, error=error)
    context["addresses"] = await own_addresses(services, session)
    if state is not None:
        context.update(
            vacation=vacation or state.current.vacation,
            forwarding=forwarding or state.current.forwarding,
        )
    return render(request, "pages/vacation.html", context, status_code=status_code)


@router.get("/settings/vacation")
async def show_vacation(
    request: Request, services: ServicesDep, session: SessionDep, account: SieveAccountDep
) -> Response:
    return await vacation_page(request, services, session, account)


@router.post("/settings/vacation")
async def save_vacation(
    request: Request, services: ServicesDep, session: SessionDep, account: SieveAccountDep
) -> Response:
    """The fields ``enabled``, ``subject``, ``body``, ``start``, ``end``, ``days``; the page also
    posts the ``addresses`` ticked (none: all of the user's addresses)."""
    form = await request.form()
    fields = form_fields(form)
    try:
        own = await own_addresses(services, session)
        chosen = tuple(address for address in form_list(form, "addresses") if address in own)
        vacation = Vacation.from_form(fields, chosen or own)
        await services.filters.update(
            account,
            lambda filters: FilterSet(filters.rules, vacation, filters.forwarding),
            version=form_version(form),
            replace_foreign=form.get("replace") == "yes",
        )
    except (RuleError, ScriptRejectedError) as exc:
        typed = Vacation(
            enabled=fields.get("enabled") in ("on", "1", "yes", "true"),
            subject=fields.get("subject", ""),
            body=fields.get("body", ""),
            days=int(fields["days"]) if fields.get("days", "").isdigit() else 7,
        )
        return await vacation_page(
            request, services, session, account, vacation=typed, error=exc.user_message, status_code=422
        )
    return redirect(request, url(request, "/settings/vacation?saved=vacation"))


@router.post("/settings/forwarding")
async def save_forwarding(
    request: Request, services: ServicesDep, session: SessionDep, account: SieveAccountDep
) -> Response:
    """The fields ``forward_to`` (empty: off) and ``keep`` (a copy stays here)."""
    form = await request.form()
    try:
        forwarding = Forwarding.from_form(form_fields(form))
        await services.filters.update(
            account,
            lambda filters: FilterSet(filters.rules, filters.vacation, forwarding),
            version=form_version(form),
            replace_foreign=form.get("replace") == "yes",
        )
    except RuleError as exc:
        return await vacation_page(
            request, services, session, account, error=exc.user_message, status_code=422
        )
    return redirect(request, url(request, "/settings/vacation?saved=forwarding"))
