"""Export a folder, a search's hits or a selection (mboxrd or a zip of .eml), and import into a
folder (mbox, .eml or a zip of them). Both stream: the export is written while it is fetched,
the import read from the spooled upload one message at a time."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from webmail.errors import FormError
from webmail.events import ExportProgress, ExportState, ImportProgress, publish_async
from webmail.exports.writers import counted, mbox_bytes, zip_bytes
from webmail.imap.store import ExportPiece
from webmail.imap.transfer import ImportReport
from webmail.imap.uidset import parse_uid_set
from webmail.mail.mbox import read_upload
from webmail.mail.query import parse_search
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, ServicesDep, SessionDep
from webmail.web.listing import folder_url
from webmail.web.routes.mailbox import canonical, find_folder
from webmail.web.routes.message import content_disposition
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

FORMATS = {"mbox": "application/mbox", "zip": "application/zip"}
MAX_SELECTION = 1_000_000
PROGRESS_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # chosen by the page; its events go to this user only


@router.get("/mail/{folder:path}/export")
async def export_messages(
    request: Request, folder: str, store: MailStoreDep, services: ServicesDep, session: SessionDep
) -> Response:
    """The file, streamed while fetched; with ``progress=<id>`` the page's live events hear how
    far it is (``ExportProgress``)."""
    params = request.query_params
    kind = params.get("format", "mbox")
    if kind not in FORMATS:
        raise FormError("format", "Export as mbox or zip.")
    folder = canonical(folder)
    q = params.get("q", "").strip()
    selection = params.get("uids", "").strip()
    if selection:
        try:
            chosen = await store.existing(
                folder, parse_uid_set(selection, max_ranges=MAX_SELECTION), MAX_SELECTION
            )
        except ValueError as exc:
            raise FormError("uids", "The selection to export is not a list of messages.") from exc
        uids = chosen  # those gone meanwhile are left out
        label = "selection"
    elif q:
        uids = await store.export_uids(folder, parse_search(q[:1000]).criteria)
        label = "search"
    else:
        uids = await store.export_uids(folder)
        label = ""
    name = folder.rsplit("/", 1)[-1] or "mail"
    filename = f"{name} {label}.{kind}" if label else f"{name}.{kind}"
    pieces: AsyncIterator[ExportPiece] = store.export(folder, uids)
    progress = params.get("progress", "")
    if PROGRESS_ID.fullmatch(progress):
        total = len(uids)
        keys = services.sessions.keys

        async def report(done: int, state: ExportState) -> None:
            event = ExportProgress(progress, done, total, state)
            await publish_async(services.redis, keys, session.user, event)

        pieces = counted(pieces, total, report)
    body = mbox_bytes(pieces) if kind == "mbox" else zip_bytes(pieces)
    headers = {
        "Content-Disposition": content_disposition("attachment", filename),
        "X-Content-Type-Options": "nosniff",
        "X-Export-Messages": str(len(uids)),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(body, media_type=FORMATS[kind], headers=headers)


UploadDep = Annotated[UploadFile, File()]
ProgressDep = Annotated[str, Form()]


@router.get("/mail/{folder:path}/import")
async def import_form(request: Request, folder: str, session: SessionDep, store: MailStoreDep) -> Response:
    folders, current = await find_folder(store, folder)
    return render(
        request,
        "pages/import.html",
        {"session": session, "current": current, "report": None, **_links(request, current.name)},
    )


@router.post("/mail/{folder:path}/import")
async def import_messages(
    request: Request,
    folder: str,
    session: SessionDep,
    services: ServicesDep,
    store: MailStoreDep,
    file: UploadDep,
    progress: ProgressDep = "",
) -> Response:
    """Import the upload; with ``progress=<id>`` (the form carries one) the page's live events
    hear how far it is (``ImportProgress``)."""
    folders, current = await find_folder(store, folder)
    entries = read_upload(file.file, file.filename or "")
    tell = None
    if PROGRESS_ID.fullmatch(progress):
        keys = services.sessions.keys

        async def tell(report: ImportReport) -> None:
            done = report.imported + report.skipped + len(report.refused)
            await publish_async(
                services.redis, keys, session.user, ImportProgress(progress, done, report.imported)
            )

    report = await store.import_messages(current.name, entries, tell)
    context = {
        "session": session,
        "current": current,
        "report": report,
        "filename": file.filename or "",
        **_links(request, current.name),
    }
    return render(request, "pages/import.html", context)


def _links(request: Request, folder: str) -> dict[str, str]:
    return {
        "folder_link": url(request, folder_url(folder)),
        "import_url": url(request, folder_url(folder) + "/import"),
        "progress_id": secrets.token_hex(8),  # names this page's import in its live events
    }
