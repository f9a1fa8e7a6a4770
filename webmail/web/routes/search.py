"""Searching many folders: the advanced form, and all-folders results streamed as folders finish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sse_starlette import EventSourceResponse

from webmail.errors import WebmailError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder, MessageSummary
from webmail.mail.query import Query, QueryError, parse_search
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, ServicesDep, SessionDep, limits_of
from webmail.web.listing import folder_url, user_zone
from webmail.web.templating import fragment, render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

HITS_PER_FOLDER = 50
SHOWN_RESULTS = 200
SCOPES = {"folder": "This folder", "subtree": "This folder and its subfolders", "all": "All folders"}


@dataclass(frozen=True)
class Hit:
    folder: Folder
    summary: MessageSummary

    @property
    def when(self) -> datetime:
        return self.summary.sort_date or datetime.min.replace(tzinfo=UTC)


def build_query(params: dict[str, str]) -> str:
    """The advanced form's fields, written in the search language of the search box."""
    parts = []
    for name in ("from", "to", "cc", "subject", "body"):
        value = params.get(name, "").strip()
        if value:
            parts.append(f'{name}:"{value}"' if " " in value else f"{name}:{value}")
    for name in ("after", "before", "larger", "smaller"):
        value = params.get(name, "").strip()
        if value:
            parts.append(f"{name}:{value}")
    for flag in ("unread", "flagged", "answered"):
        if params.get(f"is_{flag}"):
            parts.append(f"is:{flag}")
    if params.get("has_attachment"):
        parts.append("has:attachment")
    words = params.get("words", "").strip()
    if words:
        parts.insert(0, words)
    return " ".join(parts)


def folders_in_scope(folders: list[Folder], scope: str, base: str) -> list[Folder]:
    selectable = [f for f in folders if f.selectable]
    if scope == "subtree":
        base_folder = next((f for f in selectable if f.name == base), None)
        prefix = f"{base}{base_folder.delimiter}" if base_folder and base_folder.delimiter else base
        return [f for f in selectable if f.name == base or f.name.startswith(prefix)]
    return selectable


@router.get("/search")
async def search_page(
    request: Request, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    params = dict(request.query_params)
    base = params.get("folder", "INBOX") or "INBOX"
    scope = params.get("scope", "folder")
    q = params.get("q", "").strip() or build_query(params)
    folders = await store.list_folders()
    context: dict[str, Any] = {
        "session": session,
        "folders": folders,
        "base": base,
        "scope": scope if scope in SCOPES else "folder",
        "scopes": SCOPES,
        "fields": params,
        "q": q,
        "error": None,
        "folder_url": folder_url,
    }
    if not q:
        return render(request, "pages/search.html", context)
    try:
        parse_search(q, limits=limits_of(request))
    except QueryError as exc:
        context["error"] = exc.user_message
        return render(request, "pages/search.html", context, status_code=422)
    if scope not in ("subtree", "all"):
        return RedirectResponse(url(request, folder_url(base)) + "?" + urlencode({"q": q}), status_code=303)
    context["stream_url"] = (
        url(request, "/search/stream") + "?" + urlencode({"q": q, "scope": scope, "folder": base})
    )
    context["plain_url"] = (
        url(request, "/search/results") + "?" + urlencode({"q": q, "scope": scope, "folder": base})
    )
    return render(request, "pages/search.html", context)


async def search_folder(store: MailStore, folder: Folder, query: Query) -> tuple[int, list[Hit]]:
    page = await store.search(
        folder,
        query.criteria,
        f"{query.text}\n",  # the same cache key as the list view's search for this text
        page=1,
        page_size=HITS_PER_FOLDER,
        sort="date",
        reverse=True,
    )
    return page.total, [Hit(folder, summary) for summary in page.messages]


def merged(hits: list[Hit]) -> list[Hit]:
    return sorted(hits, key=lambda hit: hit.when, reverse=True)[:SHOWN_RESULTS]


@router.get("/search/results")
async def search_results(
    request: Request, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    """All-folders results in one page, for browsers without JavaScript."""
    q = request.query_params.get("q", "")
    query = parse_search(q, limits=limits_of(request))
    folders = folders_in_scope(await store.list_folders(), request.query_params.get("scope", "all"),
                               request.query_params.get("folder", "INBOX"))  # fmt: skip
    hits: list[Hit] = []
    failed: list[str] = []
    total = 0
    for folder in folders:
        try:
            count, found = await search_folder(store, folder, query)
        except WebmailError:
            failed.append(folder.label)
            continue
        total += count
        hits.extend(found)
    context = {
        "session": session,
        "q": q,
        "hits": merged(hits),
        "total": total,
        "failed": failed,
        "words": query.words,
        "tz": user_zone(request, preferences),
        "folder_url": folder_url,
    }
    return render(request, "pages/search_results.html", context)


@router.get("/search/stream")
async def search_stream(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    store: MailStoreDep,
    preferences: PreferencesDep,
) -> EventSourceResponse:
    """Each folder's hits as an SSE ``result`` event as soon as that folder is searched.

    Folders are searched in parallel, at most as many at once as this worker keeps connections
    for the user. Closing the stream (Cancel, or leaving the page) cancels what is not done.
    """
    q = request.query_params.get("q", "")
    query = parse_search(q, limits=limits_of(request))
    folders = folders_in_scope(await store.list_folders(), request.query_params.get("scope", "all"),
                               request.query_params.get("folder", "INBOX"))  # fmt: skip
    tz = user_zone(request, preferences)
    parallel = max(1, services.settings.imap_pool_per_worker)

    def rows_html(hits: list[Hit]) -> str:
        return fragment(
            request,
            "partials/_search_rows.html",
            hits=hits,
            words=query.words,
            tz=tz,
            folder_url=folder_url,
            q=q,
        )

    def event_html(block: str, **context: Any) -> str:
        return fragment(request, "partials/_search_stream.html", block, **context)

    async def generate() -> AsyncIterator[dict[str, str]]:
        send, receive = anyio.create_memory_object_stream[tuple[Folder, int, list[Hit], str | None]](
            len(folders) or 1
        )
        limiter = anyio.CapacityLimiter(parallel)

        async def one(folder: Folder) -> None:
            async with limiter:
                try:
                    count, hits = await search_folder(store, folder, query)
                    await send.send((folder, count, hits, None))
                except WebmailError as exc:
                    await send.send((folder, 0, [], exc.user_message))

        all_hits: list[Hit] = []
        total = 0
        async with send, receive, anyio.create_task_group() as tasks:
            for folder in folders:
                tasks.start_soon(one, folder)
            for done in range(1, len(folders) + 1):
                folder, count, hits, error = await receive.receive()
                if error is not None:
                    yield {"event": "result", "data": event_html("folder_failed", folder=folder, error=error)}
                elif hits:
                    total += count
                    all_hits.extend(hits)
                    yield {"event": "result", "data": rows_html(hits)}
                progress = event_html("progress", done=done, folders=len(folders), total=total)
                yield {"event": "status", "data": progress}
        final = merged(all_hits)
        summary = event_html("summary", total=total, folders=len(folders), shown=len(final))
        yield {"event": "status", "data": summary}
        yield {"event": "done", "data": rows_html(final) if final else event_html("nothing")}

    return EventSourceResponse(generate(), ping=15, send_timeout=30)


@router.post("/searches")
async def save_search(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await request.form()
    q = str(form.get("q", "")).strip()
    folder = str(form.get("folder", "INBOX")) or "INBOX"
    name = str(form.get("name", "")).strip()[:100] or q[:100]
    destination = url(request, folder_url(folder)) + "?" + urlencode({"q": q})
    try:
        parse_search(q, limits=limits_of(request))
    except QueryError as exc:
        raise QueryError(f"This search cannot be saved: {exc.user_message}") from exc
    if not await services.saved_searches.save(session.user, name, q, folder):
        raise QueryError("You have saved as many searches as allowed (20). Delete one first.")
    return RedirectResponse(destination, status_code=303)


@router.post("/searches/{search_id:int}/delete")
async def delete_search(
    request: Request, search_id: int, services: ServicesDep, session: SessionDep
) -> Response:
    await services.saved_searches.delete(session.user, search_id)
    return RedirectResponse(url(request, "/mail/INBOX"), status_code=303)
