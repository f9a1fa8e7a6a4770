"""What the message list shows, shared by the list and message routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request

from webmail.account.preferences import Preferences
from webmail.account.searches import SavedSearchView
from webmail.errors import WebmailError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder, FolderState, MessagePage, ThreadRow
from webmail.imap.watch import Snapshot
from webmail.limits import Limits
from webmail.mail.query import DEFAULT_SCOPE, FIELDS, Query, QueryError, parse_search
from webmail.web.deps import limits_of
from webmail.web.folders import folder_tree
from webmail.web.formatting import zone

SORTS = {"arrival": "Received", "date": "Date", "from": "From", "subject": "Subject", "size": "Size"}
DEFAULT_SORT = "-arrival"


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    sort: str = DEFAULT_SORT
    threads: bool = False
    q: str = ""
    scope: tuple[str, ...] = ()

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def reverse(self) -> bool:
        return self.sort.startswith("-")

    def params(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "q": self.q,
            "scope": ",".join(self.scope),
            "page": self.page,
            "sort": self.sort,
            "view": "threads" if self.threads else "list",
        }
        values.update(changes)
        defaults: dict[str, Any] = {"page": 1, "sort": DEFAULT_SORT, "view": "list", "q": "", "scope": ""}
        kept = {k: v for k, v in values.items() if defaults.get(k) != v}
        return f"?{urlencode(kept)}" if kept else ""

    @property
    def searching(self) -> bool:
        return bool(self.q.strip())


def parse_query(request: Request, preferences: Preferences) -> ListQuery:
    params = request.query_params
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    sort = params.get("sort", DEFAULT_SORT)
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    view = params.get("view")
    threads = view == "threads" if view in ("threads", "list") else preferences.conversations
    scope = tuple(name for name in params.get("scope", "").split(",") if name in FIELDS)
    scope += tuple(name for name in params.getlist("in_field") if name in FIELDS and name not in scope)
    if set(scope) == set(FIELDS):
        scope = ()  # everything is the default
    return ListQuery(page, sort, threads, params.get("q", "")[:1000], scope)


def user_zone(request: Request, preferences: Preferences) -> tzinfo:
    return zone(preferences.timezone or request.cookies.get("wm_tz"))


def folder_url(name: str) -> str:
    return "/mail/" + quote(name, safe="/")


@dataclass(frozen=True)
class SavedSearchEntry:
    id: int
    name: str
    url: str
    unseen: int | None


async def saved_search_counts(
    store: MailStore, folders: list[Folder], saved: list[SavedSearchView], limits: Limits
) -> list[SavedSearchEntry]:
    """Each saved search with its unread hits (a cached SEARCH ... UNSEEN, by folder state)."""
    by_name = {folder.name: folder for folder in folders}
    entries = []
    for item in saved:
        href = folder_url(item.folder) + "?" + urlencode({"q": item.query})
        folder = by_name.get(item.folder)
        unseen: int | None = None
        if folder is not None and folder.selectable:
            try:
                parsed = parse_search(item.query, limits=limits)
                key = f"saved-unseen\n{item.query}"
                page = await store.search(
                    folder,
                    [*parsed.criteria, "UNSEEN"],
                    key,
                    page=1,
                    page_size=1,
                    sort="arrival",
                    reverse=True,
                )
                unseen = page.total
            except WebmailError:
                unseen = None
        entries.append(SavedSearchEntry(item.id, item.name, href, unseen))
    return entries


async def list_context(
    request: Request,
    store: MailStore,
    preferences: Preferences,
    folders: list[Folder],
    current: Folder,
    query: ListQuery,
    *,
    folder_pane: bool = True,
) -> dict[str, Any]:
    """What the list shows; without ``folder_pane`` (an htmx request for the list alone) not the
    saved searches' unread counts, which only the folder pane shows."""
    search: Query | None = None
    search_error: str | None = None
    if query.searching:
        try:
            search = parse_search(query.q, scope=query.scope or DEFAULT_SCOPE, limits=limits_of(request))
        except QueryError as exc:
            search_error = exc.user_message
    if query.searching:
        if search is None:
            page: MessagePage = MessagePage(
                FolderState(current.name, current.uidvalidity or 0, current.messages or 0, None, None),
                0, 1, preferences.page_size, query.sort_key, query.reverse, (),
            )  # fmt: skip
        else:
            key = f"{query.q}\n{','.join(query.scope)}"
            if query.threads:
                page = await store.threads(
                    current,
                    page=query.page,
                    page_size=preferences.page_size,
                    criteria=search.criteria,
                    key=key,
                )
            else:
                page = await store.search(
                    current, search.criteria, key, page=query.page, page_size=preferences.page_size,
                    sort=query.sort_key, reverse=query.reverse,
                )  # fmt: skip
    elif query.threads:
        page = await store.threads(current, page=query.page, page_size=preferences.page_size)
    else:
        page = await store.page(
            current,
            page=query.page,
            page_size=preferences.page_size,
            sort=query.sort_key,
            reverse=query.reverse,
        )
    show_all = request.query_params.get("folders") == "all"
    conversations: list[list[ThreadRow]] = []
    for row in page.threads or ():
        if not conversations or conversations[-1][0].thread_root != row.thread_root:
            conversations.append([])
        conversations[-1].append(row)
    return {
        "quota": await store.quota() if folder_pane else None,
        "saved_searches": await saved_search_counts(store, folders, await _saved(request), limits_of(request))
        if folder_pane
        else [],
        "search": search,
        "search_error": search_error,
        "highlight_words": search.words if search else [],
        "scopes": FIELDS,
        "folder_state": Snapshot.of(folders).digest(),
        "conversations": conversations,
        "folders": folders,
        "tree": folder_tree(folders, show_all=show_all),
        "show_all_folders": show_all,
        "current": current,
        "listing": page,
        "query": query,
        "sorts": SORTS,
        "tz": user_zone(request, preferences),
        "preferences": preferences,
        "outgoing": current.special_use in ("\\Sent", "\\Drafts"),
        "folder_url": folder_url,
        "page_numbers": page_numbers(page.page, page.pages),
    }


def page_numbers(current: int, total: int, window: int = 2) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 20 — None marks a gap."""
    shown = sorted({1, total, *range(max(1, current - window), min(total, current + window) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


async def _saved(request: Request) -> list[SavedSearchView]:
    session = getattr(request.state, "session", None)
    if session is None:
        return []
    saved: list[SavedSearchView] = await request.app.state.services.saved_searches.all(session.user)
    return saved
