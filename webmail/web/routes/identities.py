"""/settings/identities: From addresses, Reply-To, Bcc-self and signatures."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from webmail.account.identities import IdentityForm
from webmail.auth.sessions import Session
from webmail.web.csrf import csrf_protect
from webmail.web.deps import ServicesDep, SessionDep
from webmail.web.forms import posted_fields
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])


async def _page(
    request: Request,
    services: ServicesDep,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    editing: int | None = None,
    form: IdentityForm | None = None,
) -> Response:
    context = {
        "session": session,
        "identities": [i for i in await services.identities.for_user(session.user) if i.id is not None],
        "errors": errors or {},
        "editing": editing,
        "form": form,
        "saved": request.query_params.get("saved") == "1",
        "senders": await services.senders.rule(session.user),
    }
    return render(request, "pages/identities.html", context, status_code=422 if errors else 200)


@router.get("/settings/identities")
async def identities(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _page(request, services, session)


@router.post("/settings/identities")
async def add_identity(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _save(request, services, session, None)


@router.post("/settings/identities/{identity_id:int}")
async def update_identity(
    request: Request, services: ServicesDep, session: SessionDep, identity_id: int
) -> Response:
    return await _save(request, services, session, identity_id)


async def _save(
    request: Request, services: ServicesDep, session: Session, identity_id: int | None
) -> Response:
    """A new identity (``identity_id`` None) or a change to one; the form again with its errors."""
    form, errors = IdentityForm.parse(await posted_fields(request))
    if errors:
        return await _page(request, services, session, errors=errors, editing=identity_id, form=form)
    await services.identities.save(session.user, identity_id, form)
    return RedirectResponse(url(request, "/settings/identities?saved=1"), status_code=303)


@router.post("/settings/identities/{identity_id:int}/delete")
async def delete_identity(
    request: Request, services: ServicesDep, session: SessionDep, identity_id: int
) -> Response:
    await services.identities.delete(session.user, identity_id)
    return RedirectResponse(url(request, "/settings/identities?saved=1"), status_code=303)
