"""The installable app: its manifest, its service worker, and what the worker asks to keep mail offline."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from webmail.errors import FormError
from webmail.imap.types import MessageSummary
from webmail.mail.render import attachment_name
from webmail.web.deps import MailStoreDep, OptionalSessionDep, PreferencesDep, ServicesDep, SessionDep
from webmail.web.listing import folder_url
from webmail.web.offline import SHELL_FILES, STATIC_DIR, app_manifest, request_offline_key, static_version
from webmail.web.routes.mailbox import find_folder
from webmail.web.templating import url

router = APIRouter()
MAX_PAGE = 200  # summaries per IMAP page while gathering a folder's newest messages


@router.get("/manifest.webmanifest")
async def show_manifest(request: Request) -> Response:
    response = JSONResponse(app_manifest(url(request, "")), media_type="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/sw.js")
async def service_worker(request: Request) -> Response:
    """The worker at the root path, so that its scope covers the whole app; never cached by the
    browser's HTTP cache (its URL's ``v`` is the static files' version, read by the worker)."""
    headers = {
        "Service-Worker-Allowed": url(request, "/"),
        "Cache-Control": "no-cache",
        "Content-Security-Policy": "default-src 'self'",
    }
    shell = f"self.SHELL_FILES = {json.dumps(SHELL_FILES)};\n".encode()
    body = shell + (STATIC_DIR / "sw.js").read_bytes()
    return Response(body, media_type="text/javascript", headers=headers)


@router.get("/offline/state")
async def offline_state(request: Request, services: ServicesDep, session: OptionalSessionDep) -> Response:
    """Whose copy the device may keep and how much; 401 once the session has ended on the server,
    which tells the worker to forget the copy."""
    if session is None:
        return JSONResponse({"signed_in": False}, status_code=401)
    preferences = await services.preferences.get(session.user)
    return JSONResponse(
        {
            "signed_in": True,
            "key": request_offline_key(request),
            "enabled": preferences.offline_storage,
            "messages": preferences.offline_messages,
            "max_bytes": preferences.offline_size_mb * 1024 * 1024,
            "attachment_bytes": preferences.offline_attachment_kb * 1024,
            "folders": ["INBOX", *(f for f in preferences.offline_folders if f != "INBOX")],
            "version": static_version(),
        }
    )


@router.get("/offline/messages")
async def offline_messages(
    request: Request, session: SessionDep, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    """A folder's newest messages (as many as the user keeps offline): what the device's copy
    should hold now. A message missing here is gone, or moved, and leaves the copy."""
    _, current = await find_folder(store, request.query_params.get("folder", "INBOX"))
    wanted = preferences.offline_messages if preferences.offline_storage else 0
    found: list[MessageSummary] = []
    page_number = 1
    while len(found) < wanted:
        page = await store.page(
            current, page=page_number, page_size=min(MAX_PAGE, wanted), sort="arrival", reverse=True
        )
        found.extend(page.messages)
        if page_number >= page.pages:
            break
        page_number += 1
    return JSONResponse(
        {
            "folder": current.name,
            "url": url(request, folder_url(current.name)),
            "uidvalidity": current.uidvalidity,
            "messages": [summary_record(m) for m in found[:wanted]],
        }
    )


@router.get("/offline/attachments")
async def offline_attachments(request: Request, store: MailStoreDep, preferences: PreferencesDep) -> Response:
    """The attachments of a kept message small enough to keep with it (the user's size)."""
    uid = request.query_params.get("uid", "")
    if not (uid.isascii() and uid.isdigit()):
        raise FormError("uid", "Which message? A UID is a number.")
    limit = preferences.offline_attachment_kb * 1024 if preferences.offline_storage else 0
    fetched = await store.message(request.query_params.get("folder", "INBOX"), int(uid))
    small = [p for p in fetched.plan.attachments if not p.is_multipart and 0 < p.size <= limit]
    return JSONResponse(
        {
            "attachments": [
                {"section": p.section, "name": attachment_name(p), "size": p.size, "type": p.content_type}
                for p in small
            ]
        }
    )


def summary_record(message: MessageSummary) -> dict[str, Any]:
    sender = message.from_[0] if message.from_ else None
    when = message.sort_date
    return {
        "uid": message.uid,
        "from": sender.display if sender else "",
        "from_email": sender.email if sender else "",
        "to": ", ".join(a.display for a in message.to),
        "subject": message.subject,
        "date": when.isoformat() if when else "",
        "preview": message.preview,
        "flags": sorted(message.flags),
        "size": message.size,
        "attachment": message.has_attachment,
        "message_id": message.message_id or "",
        "in_reply_to": message.in_reply_to or "",
    }
