"""Free up space (/settings/storage): what takes the space, each with the action beside it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, SessionDep
from webmail.web.flash import take_flash
from webmail.web.listing import folder_url
from webmail.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/settings/storage")
async def show_storage(request: Request, session: SessionDep, store: MailStoreDep) -> Response:
    overview = await store.storage_overview()
    context = {
        "session": session,
        "overview": overview,
        "quota": await store.quota(),
        "flash": await take_flash(request),
        "folder_url": folder_url,
    }
    return render(request, "pages/storage.html", context)
