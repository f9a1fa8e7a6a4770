from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from webmail.account.preferences import Preferences
from webmail.auth.sessions import Session
from webmail.imap import metrics
from webmail.imap.errors import FolderNotFoundError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder
from webmail.imap.watch import Snapshot
from webmail.limits import Limits
from webmail.mail.query import QueryError, parse_search
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, SessionDep, get_services, limits_of
from webmail.web.flash import take_flash
from webmail.web.htmx import partial_block, redirect
from webmail.web.listing import SORTS, folder_url, list_context, parse_query, user_zone
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

PARTIALS = {"message-list": "message_list", "folder-list": "folder_list", "list-menus": "list_menus"}
MENUS = ("export", "sort", "move", "tag", "more", "tools")


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
    block = partial_block(request, PARTIALS)
    if block == "list_menus":
        return await render_menus(request, folder, session, store, preferences)
    typed = search_folder(request.query_params.get("q", ""), limits_of(request))
    target = await typed_folder(store, typed) if typed is not None else None
    if target is not None and target.upper() != folder.upper() and target != folder:
        # "in:Archive" in the search box: the same search, in that folder.
        destination = url(request, folder_url(target)) + "?" + request.url.query
        return redirect(request, destination)
    folders, current = await find_folder(store, folder)
    query = parse_query(request, preferences)
    pages = get_services(request).pages
    variant = (
        rendered_variant(request, session, preferences, folders, current) if block == "message_list" else None
    )
    key = pages.html_key(session.user, variant) if variant is not None else None
    if key is not None:
        html = await pages.get_html(key)
        (metrics.CACHE_HITS if html is not None else metrics.CACHE_MISSES).labels(kind="list_html").inc()
        if html is not None:
            return HTMLResponse(html, headers={"Vary": "HX-Request"})
    context = await list_context(
        request, store, preferences, folders, current, query, folder_pane=block != "message_list"
    )
    context.update(
        {"session": session, "message": None, "flash": await take_flash(request) if block is None else None}
    )
    response = render(request, "pages/mailbox.html", context, block_name=block)
    if key is not None:
        await pages.put_html(session.user, key, bytes(response.body))
    return response


async def render_menus(
    request: Request, folder: str, session: Session, store: MailStore, preferences: Preferences
) -> Response:
    """The panels of the list's heavy menus (export, sort, move, tag, more) and its row tools, as a
    page load of this URL has them: an htmx response's list leaves them out and app.js asks for
    them here (HX-Target: list-menus) when the user comes near them. No messages are read: the folders and the query
    are all they show, the folders as they are now (one created elsewhere is in the move menu)."""
    folders, current = await find_folder(store, folder)
    context = {
        "session": session, "folders": folders, "current": current, "query": parse_query(request, preferences),
        "sorts": SORTS, "list_url": url(request, folder_url(current.name)), "menus": MENUS, "lazy": False,
    }  # fmt: skip
    return render(request, "partials/_list_menus.html", context)


def rendered_variant(
    request: Request, session: Session, preferences: Preferences, folders: list[Folder], current: Folder
) -> str | None:
    """Everything a rendered list partial depends on, to cache it under; None if it cannot be:
    without HIGHESTMODSEQ (CONDSTORE) a change to the folder would go unnoticed.

    Every folder's state (messages, unread, HIGHESTMODSEQ, and the names the move menus list),
    the current folder's UIDVALIDITY, the URL with its query (page, sort, search), the session
    (its CSRF token is in the forms), the preferences, and the day in the user's zone (a date
    shows as a time today)."""
    if current.highestmodseq is None or current.uidvalidity is None:
        return None
    zone = user_zone(request, preferences)
    today = datetime.now(UTC).astimezone(zone).date().isoformat()
    return "\n".join([
        session.sid, session.csrf_token, Snapshot.of(folders).digest(), current.name, str(current.uidvalidity),
        str(current.highestmodseq), url(request, request.url.path), request.url.query,
        preferences.model_dump_json(), str(zone), today,
    ])  # fmt: skip


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
