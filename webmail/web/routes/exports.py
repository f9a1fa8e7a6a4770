"""Background exports: start one (POST on the export's URL), download it when ready, delete it.
The files are the user's own: found only through the signed-in user's folder (``exports/files.py``)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from webmail.errors import FormError
from webmail.exports import jobs
from webmail.exports.files import ExportJob, ExportKind, ExportNotFoundError
from webmail.imap.uidset import parse_uid_set
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, ServicesDep, SessionDep
from webmail.web.flash import flash
from webmail.web.htmx import redirect
from webmail.web.routes.mailbox import find_folder
from webmail.web.routes.message import content_disposition
from webmail.web.templating import url

router = APIRouter(dependencies=[Depends(csrf_protect)])

STORAGE = "/settings/storage"


@router.post("/mail/{folder:path}/export")
async def start_export(
    request: Request, folder: str, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """Export in the background (fields ``format``, and ``q`` or ``uids`` as for the download, or
    the selection bar's form):
    the worker writes the file; Free up space lists it, with its download link when ready."""
    form = await request.form()
    asked = str(form.get("format", "mbox"))
    if asked not in ("mbox", "zip"):
        raise FormError("format", "Export as mbox or zip.")
    kind: ExportKind = "zip" if asked == "zip" else "mbox"
    _, current = await find_folder(store, folder)
    # ``uids`` as a set, or the selection bar's ticked ``uid`` fields (``all=1``: what the list shows).
    ticked = [str(uid) for uid in form.getlist("uid")] if form.get("all") != "1" else []
    selection = str(form.get("uids", "")).strip() or ",".join(ticked)
    if selection:
        try:
            parse_uid_set(selection, max_ranges=jobs.MAX_MESSAGES)
        except ValueError as exc:
            raise FormError("uids", "The selection to export is not a list of messages.") from exc
    query = str(form.get("q", "")).strip()[:1000]
    settings = services.settings
    await anyio.to_thread.run_sync(jobs.check_credentials, settings, services.db, session.user)
    files = jobs.files_of(settings, session.user)
    job = await anyio.to_thread.run_sync(
        lambda: jobs.start(settings, files, current.name, kind, query, selection)
    )
    await flash(
        request, f"Exporting {job.filename} in the background: it appears under Free up space when ready."
    )
    return redirect(request, url(request, STORAGE))


def _own(services: ServicesDep, session: SessionDep, export_id: str) -> ExportJob:
    job = jobs.files_of(services.settings, session.user).load(export_id)
    if job is None:
        raise ExportNotFoundError()
    return job


@router.get("/settings/storage/exports/{export_id}")
async def download_export(services: ServicesDep, session: SessionDep, export_id: str) -> Response:
    job = await anyio.to_thread.run_sync(_own, services, session, export_id)
    path = jobs.files_of(services.settings, session.user).result(job)
    if job.state != "ready" or not path.is_file():
        raise ExportNotFoundError("This export is not ready yet.", status_code=409)
    headers = {
        "Content-Disposition": content_disposition("attachment", job.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    media = "application/mbox" if job.kind == "mbox" else "application/zip"
    return FileResponse(path, media_type=media, headers=headers)


@router.post("/settings/storage/exports/{export_id}/delete")
async def delete_export(
    request: Request, services: ServicesDep, session: SessionDep, export_id: str
) -> Response:
    job = await anyio.to_thread.run_sync(_own, services, session, export_id)
    files = jobs.files_of(services.settings, session.user)
    await anyio.to_thread.run_sync(files.delete, job)
    await flash(request, f"Export {job.filename} deleted.")
    return redirect(request, url(request, STORAGE))
