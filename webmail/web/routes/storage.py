"""Free up space (/settings/storage): what takes the space, each with the action beside it."""

from __future__ import annotations

from datetime import timedelta

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from webmail.exports import jobs
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, ServicesDep, SessionDep
from webmail.web.flash import take_flash
from webmail.web.htmx import partial_block
from webmail.web.listing import folder_url
from webmail.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/settings/storage")
async def show_storage(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    block = partial_block(request, {"storage-overview": "overview", "storage-exports": "exports"})
    exports = await anyio.to_thread.run_sync(jobs.files_of(services.settings, session.user).jobs)
    context = {
        "session": session,
        "exports": exports,
        "retention": timedelta(hours=services.settings.export_retention_hours),
        "folder_url": folder_url,
    }
    if block == "exports":  # the background exports' list, refreshed as they go on
        return render(request, "pages/storage.html", context, block_name=block)
    folders = await store.folder_overview()
    counted = await services.sizes.known(session.user, folders)
    overview = await store.storage_overview(folders, counted)
    if overview.pending:  # counted off the request; the page polls itself meanwhile
        await services.sizes.start(session.user, [f.name for f in overview.pending], store.count_size)
    context.update(overview=overview, quota=await store.quota(), flash=await take_flash(request))
    return render(request, "pages/storage.html", context, block_name=block)
