from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import anyio.to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from webmail.auth.sessions import Session
from webmail.errors import FormError
from webmail.imap import metrics
from webmail.imap.cache import CachedView
from webmail.imap.errors import MessageGoneError, UIDValidityChangedError
from webmail.imap.messages import FetchedMessage
from webmail.imap.store import MailStore
from webmail.imap.types import MessageSummary
from webmail.limits import Limits
from webmail.mail.mbox import ZipStream
from webmail.mail.query import QueryError, parse_search
from webmail.mail.render import PREVIEWABLE, MessageView, attachment_name, build_view, highlight_view
from webmail.mail.tags import valid_keyword
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, Services, ServicesDep, SessionDep, limits_of
from webmail.web.flash import take_flash
from webmail.web.folders import folder_tree
from webmail.web.htmx import HtmxDetails, redirect
from webmail.web.listing import folder_url, list_context, parse_query, user_zone
from webmail.web.routes.mailbox import canonical, find_folder, pick_folder, render_folder
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])
# What a page loads besides itself (the body frame, parts, downloads): no vacation banner to look up.
frames = APIRouter(dependencies=[Depends(csrf_protect)])
MAX_OPEN_IN_THREAD = 5  # besides the chosen one: the unread and the newest message of a conversation

FLAGS = {"seen": "\\Seen", "flagged": "\\Flagged"}
BODY_CSP = (
    "default-src 'none'; img-src 'self' data:{remote}; style-src 'unsafe-inline'; font-src 'self' data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
PART_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; plugin-types application/pdf; sandbox"


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name (RFC 5987); never a path."""
    filename = filename.replace("/", "_").replace("\\", "_")
    fallback = (
        "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in filename) or "download"
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def message_url(request: Request, folder: str, uid: int, suffix: str = "") -> str:
    return url(request, f"{folder_url(folder)}/{uid}{suffix}")


class Unknown:
    """Not looked up yet (None means looked up and not there)."""


UNKNOWN = Unknown()


def view_key(
    request: Request, services: Services, session: Session, folder: str, uidvalidity: int, uid: int,
    allow_remote: bool, prefer_html: bool,
) -> str:  # fmt: skip
    """The view cache's key of a message's rendering as this request would show it."""
    return services.views.key(
        session.user, folder, uidvalidity, uid, allow_remote=allow_remote, prefer_html=prefer_html,
        base=url(request, ""),
    )  # fmt: skip


async def load_view(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    store: MailStore,
    folder: str,
    uid: int,
    *,
    prefer_html: bool,
    uidvalidity: int | None = None,
    with_summary: bool = False,
    summary: MessageSummary | None = None,
    looked_up: CachedView | None | Unknown = UNKNOWN,
    fetched: FetchedMessage | None = None,
    rendered: MessageView | None = None,
) -> tuple[MessageSummary | None, MessageView, bool]:
    """The message as shown, its summary (with ``with_summary``: current flags, fetched every
    time unless the caller just fetched it as ``summary``) and whether remote content is loaded.

    With a UIDVALIDITY (the folder's, or ``uv`` from the link) the rendering comes from the view
    cache when the message was rendered before in the same remote-content mode; a new rendering
    is cached only after IMAP confirmed that UIDVALIDITY. A caller that already looked the
    rendering up (``looked_up``) or fetched the message (``fetched``, and had ``renderer`` make
    it in the mode the link asks for: ``rendered``) passes it on.
    """
    if uidvalidity is None:
        uidvalidity = link_uidvalidity(request)
    explicit = request.query_params.get("remote") == "1"

    def key(allow: bool) -> str:
        assert uidvalidity is not None
        return view_key(request, services, session, folder, uidvalidity, uid, allow, prefer_html)

    cached: CachedView | None = None
    allow_remote = explicit
    if uidvalidity is not None and fetched is None:
        cached = looked_up if not isinstance(looked_up, Unknown) else await services.views.get(key(explicit))
        if cached is not None and not explicit and cached.view.remote_blocked:
            # Blocked here; the user may always load remote content from this sender.
            if cached.sender and await services.remote_content.is_allowed(session.user, cached.sender):
                allow_remote = True
                cached = await services.views.get(key(True))
    if cached is not None:
        metrics.CACHE_HITS.labels(kind="view").inc()
        view = cached.view
        if with_summary and summary is None:
            found = await store.summaries(folder, [uid])
            if not found:
                raise MessageGoneError()
            summary = found[0]
    else:
        if fetched is None:
            fetched = await store.message(folder, uid, prefer_html=prefer_html, uidvalidity=uidvalidity)
        summary = fetched.summary
        sender = fetched.summary.from_[0].email if fetched.summary.from_ else ""
        show = renderer(request, folder, uid, prefer_html=prefer_html)
        view = rendered if rendered is not None else await anyio.to_thread.run_sync(show, fetched, explicit)
        # Only a message with remote content asks whether its sender's is always loaded.
        if view.remote_blocked and sender and await services.remote_content.is_allowed(session.user, sender):
            allow_remote = True
            view = await anyio.to_thread.run_sync(show, fetched, True)
        if uidvalidity is not None:
            metrics.CACHE_MISSES.labels(kind="view").inc()
            await services.views.put(
                session.user, key(allow_remote), CachedView(view, sender, fetched.summary)
            )
    words = search_words(request.query_params.get("q", ""), limits_of(request))
    if words:
        view = highlight_view(view, words)
    return summary, view, allow_remote


def renderer(
    request: Request, folder: str, uid: int, *, prefer_html: bool
) -> Callable[[FetchedMessage, bool], MessageView]:
    """How this request shows a fetched message, remote content allowed or not. Decoding and
    sanitising is CPU work of any length: for a worker thread, never the event loop."""
    limits = limits_of(request)

    def render(fetched: FetchedMessage, allow_remote: bool) -> MessageView:
        resources = fetched.plan.inline_resources

        def cid_url(content_id: str) -> str | None:
            part = resources.get(content_id)
            return message_url(request, folder, uid, f"/part/{part.section}?inline=1") if part else None

        return build_view(
            fetched.header,
            fetched.plan,
            fetched.contents,
            truncated=fetched.truncated,
            cid_url=cid_url,
            allow_remote=allow_remote,
            prefer_html=prefer_html,
            limits=limits,
        )

    return render


def search_words(q: str, limits: Limits) -> list[str]:
    """The words a search asked for, to highlight in the opened message."""
    if not q.strip():
        return []
    try:
        return parse_search(q, limits=limits).words
    except QueryError:
        return []


@frames.get("/mail/{folder:path}/{uid:int}/body")
async def message_body(
    request: Request, folder: str, uid: int, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """The message body as its own document, for a sandboxed iframe, under a CSP without scripts."""
    _, view, allow_remote = await load_view(request, services, session, store, folder, uid, prefer_html=True)
    response = render(request, "pages/message_body.html", {"view": view})
    response.headers["Content-Security-Policy"] = BODY_CSP.format(
        remote=" https: http:" if allow_remote else ""
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@frames.get("/mail/{folder:path}/{uid:int}/part/{section}")
async def download_part(
    request: Request, folder: str, uid: int, section: str, store: MailStoreDep
) -> Response:
    part = await store.part_info(folder, uid, section)
    inline = request.query_params.get("inline") == "1"
    content_type = (
        part.content_type if inline and part.content_type in PREVIEWABLE else "application/octet-stream"
    )
    if content_type == "text/plain":
        content_type = f"text/plain; charset={part.charset or 'utf-8'}"
    headers = {
        "Content-Disposition": content_disposition(
            "inline" if inline else "attachment", attachment_name(part)
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": PART_CSP,
    }
    chunks = await primed(store.stream(folder, uid, section, part.encoding))
    return StreamingResponse(chunks, media_type=content_type, headers=headers)


async def primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream with its first chunk fetched before the answer starts: a mail server (or a
    message) gone by then answers in words (503, 404), not as a 200 with an empty file."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""

    async def rest() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return rest()


@frames.get("/mail/{folder:path}/{uid:int}/attachments.zip")
async def download_all(
    request: Request, folder: str, uid: int, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    fetched = await store.message(folder, uid)
    parts = [p for p in fetched.plan.attachments if not p.is_multipart]
    if not parts:
        raise MessageGoneError("This message has no attachments.")

    async def zipped() -> AsyncIterator[bytes]:
        buffer = ZipStream()
        names: set[str] = set()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for part in parts:
                name = _unique(attachment_name(part), names)
                with archive.open(name, "w", force_zip64=True) as entry:
                    async for chunk in store.stream(folder, uid, part.section, part.encoding):
                        entry.write(chunk)
                        yield buffer.take()
                yield buffer.take()
        yield buffer.take()

    subject = fetched.summary.subject or f"message-{uid}"
    headers = {"Content-Disposition": content_disposition("attachment", f"{subject[:80]}.zip")}
    return StreamingResponse(zipped(), media_type="application/zip", headers=headers)


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 1
    while candidate in taken:
        stem, dot, extension = name.rpartition(".")
        candidate = f"{stem} ({counter}).{extension}" if dot else f"{name} ({counter})"
        counter += 1
    taken.add(candidate)
    return candidate


@frames.get("/mail/{folder:path}/{uid:int}/raw")
async def download_raw(folder: str, uid: int, store: MailStoreDep) -> Response:
    size = await store.message_size(folder, uid)
    headers = {
        "Content-Disposition": content_disposition("attachment", f"message-{uid}.eml"),
        "Content-Length": str(size),
        "X-Content-Type-Options": "nosniff",
    }
    chunks = await primed(store.stream(folder, uid, ""))
    return StreamingResponse(chunks, media_type="message/rfc822", headers=headers)


@router.get("/mail/{folder:path}/{uid:int}/source")
async def show_source(
    request: Request, folder: str, uid: int, session: SessionDep, store: MailStoreDep
) -> Response:
    limit = 5 * 1024 * 1024
    chunks: list[bytes] = []
    size = 0
    async for chunk in store.stream(folder, uid, ""):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    source = b"".join(chunks)[:limit].decode("utf-8", "replace")
    context = {
        "session": session,
        "source": source,
        "truncated": size >= limit,
        "raw_url": message_url(request, folder, uid, "/raw"),
        "back_url": message_url(request, folder, uid),
    }
    return render(request, "pages/source.html", context)


@router.get("/mail/{folder:path}/{uid:int}/{direction:str}")
async def neighbour(
    request: Request,
    folder: str,
    uid: int,
    direction: str,
    session: SessionDep,
    store: MailStoreDep,
    preferences: PreferencesDep,
) -> Response:
    if direction not in ("next", "prev"):
        # Not a message action: a folder such as "Lists/2024/old".
        return await render_folder(request, f"{folder}/{uid}/{direction}", session, store, preferences)
    query = parse_query(request, preferences)
    target = await store.neighbour(
        folder, uid, sort=query.sort_key, reverse=query.reverse, forward=direction == "next"
    )
    if target is None:
        destination = url(request, folder_url(folder)) + query.params()
    else:
        destination = message_url(request, folder, target) + query.params()
    return redirect(request, destination)


@router.post("/mail/{folder:path}/{uid:int}/flags")
async def set_flag(
    request: Request,
    folder: str,
    uid: int,
    store: MailStoreDep,
    session: SessionDep,
    preferences: PreferencesDep,
    flag: Annotated[str, Form()],
    value: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    imap_flag = FLAGS.get(flag) or (flag if valid_keyword(flag) else None)
    if imap_flag is None:
        raise FormError("flag", "This flag cannot be set; nothing was changed.")
    if value not in ("0", "1"):
        raise FormError("value", "A flag is set with 1 and cleared with 0; nothing was changed.")
    flags = await store.set_flag(folder, [uid], imap_flag, value == "1")
    if uid not in flags:
        raise MessageGoneError()
    if not HtmxDetails(request):
        local = next.startswith("/") and not next.startswith("//") and "\\" not in next
        return RedirectResponse(next if local else message_url(request, folder, uid), status_code=303)
    folders, current = await find_folder(store, folder)
    context: dict[str, Any] = {
        "session": session,
        "current": current,
        "tree": folder_tree(folders, show_all=False),
        "query": parse_query(request, preferences),
        "tz": user_zone(request, preferences),
        "uid": uid,
        "flags": flags[uid],
        "rows": await store.summaries(folder, [uid]),
        "folder_url": folder_url,
    }
    return render(request, "partials/_flag_update.html", context)


@router.post("/mail/{folder:path}/{uid:int}/remote-senders")
async def always_allow_remote(
    request: Request, folder: str, uid: int, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    fetched = await store.message(folder, uid)
    if fetched.summary.from_:
        await services.remote_content.allow(session.user, fetched.summary.from_[0].email)
    return RedirectResponse(message_url(request, folder, uid), status_code=303)


@router.get("/mail/{folder:path}/{uid:int}")
async def show_message(
    request: Request,
    folder: str,
    uid: int,
    services: ServicesDep,
    session: SessionDep,
    store: MailStoreDep,
    preferences: PreferencesDep,
) -> Response:
    prefer_html = preferences.prefer_html and request.query_params.get("plain") != "1"
    query = parse_query(request, preferences)
    linked = link_uidvalidity(request)
    looked_up: CachedView | None | Unknown = UNKNOWN
    fetched, marked_early, early_view = None, False, None
    if linked is not None:
        # A click in the list: one IMAP hop gets the flags (and the message, unless its
        # rendering is cached), marks it read and lists the folders with the new counts.
        explicit = request.query_params.get("remote") == "1"
        looked_up = await services.views.get(
            view_key(request, services, session, canonical(folder), linked, uid, explicit, prefer_html)
        )
        # A message not rendered before is rendered in the IMAP hop's thread (no second hop).
        show = renderer(request, canonical(folder), uid, prefer_html=prefer_html)
        early = await store.open_message(
            canonical(folder), uid, uidvalidity=linked, fetch=looked_up is None, prefer_html=prefer_html,
            mark_seen=preferences.mark_seen == "immediately" and not query.threads,
            known=looked_up.summary if looked_up is not None else None,
            render=lambda fetched: show(fetched, explicit),
        )  # fmt: skip
        folders, known, fetched, marked_early, early_view = (
            early.folders,
            early.summaries,
            early.fetched,
            early.marked_seen,
            early.view,
        )
    else:
        folders, known = await store.list_folders(select=canonical(folder)), []
    if any(f.name == f"{folder}/{uid}" for f in folders):
        # A folder whose last name part is a number, such as "Archive/2024".
        return await render_folder(request, f"{folder}/{uid}", session, store, preferences)
    current = pick_folder(folders, folder)
    try:
        if linked not in (None, current.uidvalidity):
            raise UIDValidityChangedError()
        opened, view, allow_remote = await load_view(
            request, services, session, store, current.name, uid, prefer_html=prefer_html,
            uidvalidity=current.uidvalidity, with_summary=True, summary=known[0] if known else None,
            looked_up=looked_up if linked == current.uidvalidity else UNKNOWN, fetched=fetched,
            rendered=early_view if current.name == canonical(folder) else None,
        )  # fmt: skip
    except UIDValidityChangedError:
        destination = url(request, folder_url(current.name)) + "?changed=1"
        return redirect(request, destination)
    thread: list[MessageSummary] = []
    views: dict[int, tuple[MessageView, str]] = {}
    if query.threads:
        thread = await store.conversation(current.name, uid)
        for member in thread:
            if (
                member.uid != uid
                and (not member.seen or member is thread[-1])
                and len(views) < MAX_OPEN_IN_THREAD
            ):
                _, member_view, member_remote = await load_view(
                    request, services, session, store, current.name, member.uid, prefer_html=prefer_html,
                    uidvalidity=current.uidvalidity,
                )  # fmt: skip
                views[member.uid] = (member_view, message_url(request, current.name, member.uid, "/body")
                                     + body_query(request, member_remote, current.uidvalidity))  # fmt: skip
    assert opened is not None  # with_summary
    unseen = [uid] if not opened.seen else []
    unseen += [member.uid for member in thread if member.uid in views and not member.seen]
    marked_seen = False
    if preferences.mark_seen == "immediately" and unseen:
        rest = [member for member in unseen if not (marked_early and member == uid)]
        if rest:
            folders = await store.set_flag_and_list(current.name, rest, "\\Seen", True)
            current = next((f for f in folders if f.name == current.name), current)
        marked_seen = True
    htmx = HtmxDetails(request)
    reader_only = bool(htmx) and htmx.target == "reader"
    if reader_only:
        context: dict[str, Any] = {
            "folders": folders,
            "tree": folder_tree(folders, show_all=False),
            "current": current,
            "query": query,
            "tz": user_zone(request, preferences),
            "preferences": preferences,
            "folder_url": folder_url,
            "show_all_folders": request.query_params.get("folders") == "all",
            "oob_updates": True,
        }
    else:
        context = await list_context(request, store, preferences, folders, current, query)
    summary = opened
    if marked_seen:
        summary = replace(summary, flags=summary.flags | {"\\Seen"})
    body_url = message_url(request, current.name, uid, "/body") + body_query(
        request, allow_remote, current.uidvalidity
    )
    views[uid] = (view, body_url)
    context.update(
        {
            "thread": thread,
            "views": views,
            "session": session,
            "message": summary,
            "view": view,
            "allow_remote": allow_remote,
            "prefer_html": prefer_html,
            "marked_seen": marked_seen,
            "body_url": body_url,
        }
    )
    block = "reader" if reader_only else None
    context["flash"] = None if reader_only else await take_flash(request)
    return render(request, "pages/mailbox.html", context, block_name=block)


def link_uidvalidity(request: Request) -> int | None:
    """The UIDVALIDITY the link was made under (``uv``), if it says."""
    given = request.query_params.get("uv", "")
    return int(given) if given.isascii() and given.isdigit() else None


def body_query(request: Request, allow_remote: bool, uidvalidity: int | None = None) -> str:
    """The body frame's query: remote content, the UIDVALIDITY (so it is served from the view
    cache without asking IMAP) and the searched words to highlight."""
    params = {"remote": "1"} if allow_remote else {}
    if uidvalidity is not None:
        params["uv"] = str(uidvalidity)
    if request.query_params.get("q"):
        params["q"] = request.query_params["q"]
    return f"?{urlencode(params)}" if params else ""
