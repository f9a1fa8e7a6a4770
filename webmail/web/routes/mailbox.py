from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from webmail.imap.errors import FolderNotFoundError
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, SessionDep
from webmail.web.htmx import partial_block
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

PARTIALS = {"main": "main", "folder-list": "folder_list"}


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(url(request, "/mail/INBOX"), status_code=303)


@router.get("/mail/{folder:path}")
async def show_folder(request: Request, folder: str, session: SessionDep, store: MailStoreDep) -> Response:
    if folder.upper() == "INBOX":
        folder = "INBOX"
    folders = await store.list_folders()
    current = next((f for f in folders if f.name == folder and f.selectable), None)
    if current is None:
        raise FolderNotFoundError()
    context = {"session": session, "folders": folders, "current": current}
    return render(request, "pages/mailbox.html", context, block_name=partial_block(request, PARTIALS))
