from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from webmail.imap.errors import FolderNotFoundError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, SessionDep
from webmail.web.htmx import partial_block
from webmail.web.listing import list_context, parse_query
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

PARTIALS = {"message-list": "message_list", "folder-list": "folder_list"}


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(url(request, "/mail/INBOX"), status_code=303)


async def find_folder(store: MailStore, name: str) -> tuple[list[Folder], Folder]:
    if name.upper() == "INBOX":
        name = "INBOX"
    folders = await store.list_folders(select=name)
    current = next((f for f in folders if f.name == name and f.selectable), None)
    if current is None:
        raise FolderNotFoundError()
    return folders, current


async def render_folder(
    request: Request, folder: str, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    folders, current = await find_folder(store, folder)
    query = parse_query(request, preferences)
    context = await list_context(request, store, preferences, folders, current, query)
    context.update({"session": session, "message": None})
    return render(request, "pages/mailbox.html", context, block_name=partial_block(request, PARTIALS))


@router.get("/mail/{folder:path}")
async def list_messages(
    request: Request, folder: str, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    return await render_folder(request, folder, session, store, preferences)
