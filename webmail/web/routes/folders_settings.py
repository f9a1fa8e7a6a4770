"""/settings/folders: create, rename, move, delete, subscribe and empty folders; choose the
special folders by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from webmail.account.preferences import Preferences
from webmail.imap.errors import ProtocolError
from webmail.imap.manage import FolderExistsError, FolderRefusedError, special_within
from webmail.imap.types import SPECIAL_NAMES, Folder, SpecialUse
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, ServicesDep, SessionDep
from webmail.web.flash import flash, take_flash
from webmail.web.listing import folder_url
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

FormText = Annotated[str, Form()]


async def back(request: Request, words: str, *, error: bool = False) -> RedirectResponse:
    await flash(request, words, error=error)
    return RedirectResponse(url(request, "/settings/folders"), status_code=303)


def _named(folders: list[Folder], name: str) -> Folder | None:
    return next((f for f in folders if f.name == name), None)


# Form field of each special use in the "Special folders" form.
SPECIAL_FIELDS: dict[SpecialUse, str] = {
    "\\Drafts": "drafts", "\\Sent": "sent", "\\Archive": "archive", "\\Junk": "junk", "\\Trash": "trash",
}  # fmt: skip


@dataclass(frozen=True)
class Refused:
    """A create or rename the server (or our checks) refused: shown beside the form's name
    field, the form filled in as it was sent. ``folder`` is the renamed one ("" for create)."""

    words: str
    name: str
    parent: str
    folder: str = ""


# What a create or rename can be refused for; the words say why (the server's own, for a NO).
REFUSALS = (FolderExistsError, FolderRefusedError, ProtocolError)


async def folders_page(
    request: Request,
    session: SessionDep,
    store: MailStoreDep,
    preferences: Preferences,
    refused: Refused | None = None,
) -> Response:
    folders = await store.folder_overview()
    message = await take_flash(request) if refused is None else None
    specials = [
        (SPECIAL_FIELDS[use], SPECIAL_NAMES[use], preferences.special_folders.get(use, ""),
         next((f for f in folders if f.use == use), None))
        for use in SPECIAL_FIELDS
    ]  # fmt: skip
    context = {
        "session": session,
        "folders": folders,
        "specials": specials,
        # Folders holding a special one keep their names too: no Rename or Delete for them.
        "holding": {f.name for f in folders if f.special_use is None and special_within(f, folders)},
        "choosable": [f for f in folders if f.selectable and f.name.upper() != "INBOX"],
        "parents": [f for f in folders if f.name.upper() != "INBOX" or f.delimiter],
        "done": message.text if message is not None and not message.error else "",
        "error": message.text if message is not None and message.error else "",
        "refused": refused,
        "total_size": sum(f.size or 0 for f in folders),
        "sizes_known": any(f.size is not None for f in folders),
        "folder_url": folder_url,
    }
    return render(request, "pages/folders.html", context, status_code=422 if refused else 200)


@router.get("/settings/folders")
async def folder_settings(
    request: Request, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    return await folders_page(request, session, store, preferences)


@router.post("/settings/folders")
async def create_folder(
    request: Request,
    session: SessionDep,
    store: MailStoreDep,
    preferences: PreferencesDep,
    name: FormText = "",
    parent: FormText = "",
) -> Response:
    try:
        created = await store.create_folder(parent, name)
    except REFUSALS as exc:
        refused = Refused(exc.user_message, name, parent)
        return await folders_page(request, session, store, preferences, refused)
    return await back(request, f"Folder “{(await store.namespaces()).path(created)}” created.")


@router.post("/settings/folders/rename")
async def rename_folder(
    request: Request,
    session: SessionDep,
    store: MailStoreDep,
    preferences: PreferencesDep,
    folder: FormText = "",
    name: FormText = "",
    parent: FormText = "",
) -> Response:
    try:
        renamed = await store.rename_folder(folder, parent, name)
    except REFUSALS as exc:
        refused = Refused(exc.user_message, name, parent, folder)
        return await folders_page(request, session, store, preferences, refused)
    spaces = await store.namespaces()
    return await back(request, f"“{spaces.path(folder)}” is now “{spaces.path(renamed)}”.")


@router.post("/settings/folders/subscribe")
async def subscribe_folder(
    request: Request, store: MailStoreDep, folder: FormText = "", subscribed: FormText = ""
) -> Response:
    on = subscribed == "1"
    await store.set_subscribed(folder, on)
    shown = (await store.namespaces()).path(folder)
    return await back(request, f"“{shown}” {'shown' if on else 'hidden'} in the folder list.")


@router.post("/settings/folders/delete")
async def delete_folder(
    request: Request, session: SessionDep, store: MailStoreDep, folder: FormText = "", confirm: FormText = ""
) -> Response:
    folders = await store.folder_overview()
    current = _named(folders, folder)
    # A folder that is or holds a special one is refused at once, not after a question.
    if current is not None and special_within(current, folders) is None and confirm != "1":
        inside = [
            f
            for f in folders
            if f.name == folder or (f.delimiter and f.name.startswith(folder + f.delimiter))
        ]
        messages = sum(f.messages or 0 for f in inside)
        if messages or len(inside) > 1:
            context = {"session": session, "folder": current, "messages": messages, "subfolders": len(inside) - 1,
                       "action": "delete"}  # fmt: skip
            return render(request, "pages/confirm_folder.html", context)
    try:
        await store.delete_folder(folder)
    except FolderRefusedError as exc:
        return await back(request, exc.user_message, error=True)
    return await back(request, f"Folder “{(await store.namespaces()).path(folder)}” deleted.")


@router.post("/settings/folders/empty")
async def empty_folder(
    request: Request, session: SessionDep, store: MailStoreDep, folder: FormText = "", confirm: FormText = ""
) -> Response:
    folders = await store.folder_overview()
    current = _named(folders, folder)
    if current is None or current.special_use not in ("\\Trash", "\\Junk"):
        return await back(request, "Only Trash and Junk can be emptied here.")
    if confirm != "1":
        context = {"session": session, "folder": current, "messages": current.messages or 0, "subfolders": 0,
                   "action": "empty"}  # fmt: skip
        return render(request, "pages/confirm_folder.html", context)
    count = await store.empty_folder(folder)
    return await back(
        request, f"{current.label} emptied: {count} message{'s' if count != 1 else ''} deleted for good."
    )


@router.post("/settings/folders/special")
async def choose_special_folders(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    preferences: PreferencesDep,
    store: MailStoreDep,
) -> Response:
    """The special folders chosen by hand; a use left on "automatic" is found on the server."""
    async with request.form() as form:
        wanted = {use: str(form.get(name) or "") for use, name in SPECIAL_FIELDS.items()}
    chosen = {use: name for use, name in wanted.items() if name}
    names = {f.name for f in await store.list_folders() if f.selectable and f.name.upper() != "INBOX"}
    unknown = [name for name in chosen.values() if name not in names]
    if unknown:
        return await back(request, f"There is no folder called “{unknown[0]}”.", error=True)
    if len(set(chosen.values())) < len(chosen):
        return await back(request, "One folder cannot be two special folders.", error=True)
    updated = Preferences.model_validate({**preferences.model_dump(), "special_folders": chosen})
    await services.preferences.save(session.user, updated)
    return await back(request, "Special folders saved.")
