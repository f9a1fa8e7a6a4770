from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from webmail.imap.errors import FolderNotFoundError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder
from webmail.limits import Limits
from webmail.mail.query import QueryError, parse_search
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, SessionDep, limits_of
from webmail.web.flash import take_flash
from webmail.web.htmx import partial_block, redirect
from webmail.web.listing import folder_url, list_context, parse_query
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

PARTIALS = {"message-list": "message_list", "folder-list": "folder_list"}


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(url(request, "/mail/INBOX"), status_code=303)


async def find_folder(store: MailStore, name: str) -> tuple[list[Folder], Folder]:
    folders = await store.list_folders(select=canonical(name))
    return folders, pick_folder(folders, name)


def canonical(name: str) -> str:
    return "INBOX" if name.upper() == "INBOX" else name


def pick_folder(folders: list[Folder], name: str) -> Folder:
    """The selectable folder called ``name`` (INBOX in any case), or FolderNotFoundError."""
    name = canonical(name)
    current = next((f for f in folders if f.name == name and f.selectable), None)
    if current is None:
        raise FolderNotFoundError()
    return current


async def render_folder(
    request: Request, folder: str, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    typed = search_folder(request.query_params.get("q", ""), limits_of(request))
    target = await typed_folder(store, typed) if typed is not None else None
    if target is not None and target.upper() != folder.upper() and target != folder:
        # "in:Archive" in the search box: the same search, in that folder.
        destination = url(request, folder_url(target)) + "?" + request.url.query
        return redirect(request, destination)
    folders, current = await find_folder(store, folder)
    query = parse_query(request, preferences)
    context = await list_context(request, store, preferences, folders, current, query)
    block = partial_block(request, PARTIALS)
    context.update(
        {"session": session, "message": None, "flash": await take_flash(request) if block is None else None}
    )
    return render(request, "pages/mailbox.html", context, block_name=block)


@router.get("/mail/{folder:path}")
async def list_messages(
    request: Request, folder: str, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    return await render_folder(request, folder, session, store, preferences)


async def typed_folder(store: MailStore, typed: str) -> str:
    """The folder a name the user typed means: its full name, or as the app shows it
    (``Projects`` for ``INBOX.Projects`` where every folder lies below INBOX)."""
    folders = await store.list_folders()
    exact = next((f.name for f in folders if f.name == typed), None)
    return exact or next((f.name for f in folders if f.path == typed), typed)


def search_folder(q: str, limits: Limits) -> str | None:
    """The folder an ``in:`` operator names, if the query has one and parses."""
    if "in:" not in q:
        return None
    try:
        return parse_search(q, limits=limits).folder
    except QueryError:
        return None
