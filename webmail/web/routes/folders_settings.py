"""/settings/folders: create, rename, move, delete, subscribe and empty folders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from webmail.imap.manage import FolderExistsError, FolderRefusedError
from webmail.imap.types import Folder
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, SessionDep
from webmail.web.flash import flash, take_flash
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

FormText = Annotated[str, Form()]


async def back(request: Request, words: str, *, error: bool = False) -> RedirectResponse:
    await flash(request, words, error=error)
    return RedirectResponse(url(request, "/settings/folders"), status_code=303)


def _named(folders: list[Folder], name: str) -> Folder | None:
    return next((f for f in folders if f.name == name), None)


@router.get("/settings/folders")
async def folder_settings(request: Request, session: SessionDep, store: MailStoreDep) -> Response:
    folders = await store.folder_overview()
    message = await take_flash(request)
    context = {
        "session": session,
        "folders": folders,
        "parents": [f for f in folders if f.name.upper() != "INBOX" or f.delimiter],
        "done": message.text if message is not None and not message.error else "",
        "error": message.text if message is not None and message.error else "",
        "total_size": sum(f.size or 0 for f in folders),
        "sizes_known": any(f.size is not None for f in folders),
    }
    return render(request, "pages/folders.html", context)


@router.post("/settings/folders")
async def create_folder(
    request: Request, store: MailStoreDep, name: FormText = "", parent: FormText = ""
) -> Response:
    try:
        created = await store.create_folder(parent, name)
    except (FolderExistsError, FolderRefusedError) as exc:
        return await back(request, exc.user_message, error=True)
    return await back(request, f"Folder “{created}” created.")


@router.post("/settings/folders/rename")
async def rename_folder(
    request: Request, store: MailStoreDep, folder: FormText = "", name: FormText = "", parent: FormText = ""
) -> Response:
    try:
        renamed = await store.rename_folder(folder, parent, name)
    except (FolderExistsError, FolderRefusedError) as exc:
        return await back(request, exc.user_message, error=True)
    return await back(request, f"“{folder}” is now “{renamed}”.")


@router.post("/settings/folders/subscribe")
async def subscribe_folder(
    request: Request, store: MailStoreDep, folder: FormText = "", subscribed: FormText = ""
) -> Response:
    on = subscribed == "1"
    await store.set_subscribed(folder, on)
    return await back(request, f"“{folder}” {'shown' if on else 'hidden'} in the folder list.")


@router.post("/settings/folders/delete")
async def delete_folder(
    request: Request, session: SessionDep, store: MailStoreDep, folder: FormText = "", confirm: FormText = ""
) -> Response:
    folders = await store.folder_overview()
    current = _named(folders, folder)
    if current is not None and current.special_use is None and confirm != "1":
        inside = [
            f for f in folders if f.name == folder or f.name.startswith(folder + (current.delimiter or "/"))
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
    return await back(request, f"Folder “{folder}” deleted.")


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
