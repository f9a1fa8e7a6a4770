"""/contacts: the address book, groups, vCard and CSV import/export, collected recipients,
and suggestions for the recipient fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from webmail.auth.sessions import Session
from webmail.mail.cards import EMAIL, Card, dump_csv, dump_vcards, parse_csv, parse_vcards
from webmail.web.csrf import csrf_protect
from webmail.web.deps import ServicesDep, SessionDep
from webmail.web.flash import flash, take_flash
from webmail.web.forms import posted_fields
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])
MAX_IMPORT_BYTES = 5 * 1024 * 1024


async def back(request: Request, words: str, *, error: bool = False) -> RedirectResponse:
    await flash(request, words, error=error)
    return RedirectResponse(url(request, "/contacts"), status_code=303)


async def _page(request: Request, services: ServicesDep, session: Session, **extra: Any) -> Response:
    q = request.query_params.get("q", "")
    group = request.query_params.get("group", "")
    message = await take_flash(request)
    context = {
        "session": session,
        "contacts": await services.contacts.all(session.user, q, group),
        "groups": await services.contacts.groups(session.user),
        "collected": await services.contacts.collected(session.user),
        "q": q,
        "group": group,
        "done": message.text if message is not None and not message.error else "",
        "error": message.text if message is not None and message.error else "",
        "editing": None,
        "form": None,
        "errors": {},
        **extra,
    }
    return render(request, "pages/contacts.html", context, status_code=422 if extra.get("errors") else 200)


def parse_contact(form: dict[str, str]) -> tuple[Card, dict[str, str]]:
    errors: dict[str, str] = {}
    name = " ".join(form.get("name", "").split())[:200]
    emails = [
        e.strip() for e in form.get("emails", "").replace(";", ",").replace("\n", ",").split(",") if e.strip()
    ]
    bad = [e for e in emails if not EMAIL.match(e)]
    if bad:
        errors["emails"] = f"Not valid: {', '.join(bad)}."
    if not name and not emails:
        errors["name"] = "Give a name or an address."
    groups = [g.strip()[:100] for g in form.get("groups", "").split(",") if g.strip()]
    return Card(name, emails, form.get("notes", "")[:4000], groups), errors


@router.get("/contacts")
async def contacts(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _page(request, services, session)


@router.post("/contacts")
async def add_contact(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _save(request, services, session, None)


@router.post("/contacts/{contact_id:int}")
async def update_contact(
    request: Request, services: ServicesDep, session: SessionDep, contact_id: int
) -> Response:
    return await _save(request, services, session, contact_id)


async def _save(
    request: Request, services: ServicesDep, session: Session, contact_id: int | None
) -> Response:
    """A new contact (``contact_id`` None) or a change to one; the form again with its errors."""
    card, errors = parse_contact(await posted_fields(request))
    if errors:
        return await _page(request, services, session, errors=errors, form=card, editing=contact_id)
    await services.contacts.save(session.user, contact_id, card)
    done = "added" if contact_id is None else "saved"
    return await back(request, f"{card.name or card.emails[0]} {done}.")


@router.post("/contacts/{contact_id:int}/delete")
async def delete_contact(
    request: Request, services: ServicesDep, session: SessionDep, contact_id: int
) -> Response:
    await services.contacts.delete(session.user, contact_id)
    return await back(request, "Contact deleted.")


@router.post("/contacts/collected/{collected_id:int}/promote")
async def promote(
    request: Request, services: ServicesDep, session: SessionDep, collected_id: int
) -> Response:
    contact = await services.contacts.promote(session.user, collected_id)
    return await back(request, f"{contact.name or contact.emails[0]} is now in your contacts.")


@router.post("/contacts/collected/{collected_id:int}/delete")
async def forget(request: Request, services: ServicesDep, session: SessionDep, collected_id: int) -> Response:
    await services.contacts.forget(session.user, collected_id)
    return await back(request, "Forgotten.")


@router.post("/contacts/import")
async def import_contacts(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    async with request.form() as form:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return await back(request, "Choose a .vcf or .csv file to import.", error=True)
        filename = file.filename
        raw = await file.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        return await back(request, "The file is larger than 5 MB; nothing was imported.", error=True)
    text = raw.decode("utf-8", "replace")
    is_vcard = filename.lower().endswith((".vcf", ".vcard")) or "BEGIN:VCARD" in text.upper()[:2000]
    cards = parse_vcards(text) if is_vcard else parse_csv(text)
    if not cards:
        return await back(request, "No contacts found in this file; nothing was imported.", error=True)
    added, merged = await services.contacts.import_cards(session.user, cards)
    return await back(request, f"Imported: {added} new, {merged} merged with existing contacts.")


@router.get("/contacts/export.vcf")
async def export_vcard(services: ServicesDep, session: SessionDep) -> Response:
    cards = [c.card() for c in await services.contacts.all(session.user)]
    headers = {"Content-Disposition": 'attachment; filename="contacts.vcf"'}
    return Response(dump_vcards(cards), media_type="text/vcard; charset=utf-8", headers=headers)


@router.get("/contacts/export.csv")
async def export_csv(services: ServicesDep, session: SessionDep) -> Response:
    cards = [c.card() for c in await services.contacts.all(session.user)]
    headers = {"Content-Disposition": 'attachment; filename="contacts.csv"'}
    return Response(dump_csv(cards), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/contacts/suggest")
async def suggest(services: ServicesDep, session: SessionDep, q: str = "") -> JSONResponse:
    found = await services.contacts.suggest(session.user, q)
    return JSONResponse([{"label": s.label, "value": s.value} for s in found])
