"""Tidying one message from the reader: move, delete, archive, junk, and undo."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from webmail.errors import WebmailError
from webmail.imap.organize import MoveResult, parse_uid_set, uid_set
from webmail.imap.store import MailStore
from webmail.imap.types import Folder
from webmail.mail.tags import LABELS
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, SessionDep
from webmail.web.listing import folder_url
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])


class FolderMissingError(WebmailError):
    """Raised when an action needs a special-use folder (Trash, Archive, Junk) the account lacks."""

    status_code = 409


async def special_folder(
    store: MailStore, use: str, label: str, folders: list[Folder] | None = None
) -> Folder:
    folders = folders if folders is not None else await store.list_folders()
    found = next((f for f in folders if f.special_use == use and f.selectable and f.depth == 0), None)
    if found is None:
        raise FolderMissingError(f"This mailbox has no {label} folder.")
    return found


def after_move(request: Request, result: MoveResult, words: str) -> Response:
    """Back to the list, with an Undo offer that knows the messages' new UIDs."""
    params = {"done": words}
    if result.new_uids:
        params.update(
            {"undo_from": result.target, "undo_to": result.source, "undo_uids": uid_set(result.new_uids)}
        )
    return RedirectResponse(
        url(request, folder_url(result.source)) + "?" + urlencode(params), status_code=303
    )


@router.post("/mail/{folder:path}/{uid:int}/move")
async def move_message(
    request: Request, folder: str, uid: int, store: MailStoreDep, to: Annotated[str, Form()] = ""
) -> Response:
    folders = await store.list_folders()
    target = next((f for f in folders if f.name == to and f.selectable), None)
    if target is None:
        raise FolderMissingError(f"There is no folder called “{to}”; nothing was moved.")
    if target.name == folder:
        return RedirectResponse(url(request, folder_url(folder) + f"/{uid}"), status_code=303)
    result = await store.move(folder, [uid], target.name)
    return after_move(request, result, f"Moved to {target.label}.")


@router.post("/mail/{folder:path}/{uid:int}/archive")
async def archive_message(request: Request, folder: str, uid: int, store: MailStoreDep) -> Response:
    archive = await special_folder(store, "\\Archive", "Archive")
    result = await store.move(folder, [uid], archive.name)
    return after_move(request, result, "Archived.")


@router.post("/mail/{folder:path}/{uid:int}/junk")
async def junk_message(request: Request, folder: str, uid: int, store: MailStoreDep) -> Response:
    junk = await special_folder(store, "\\Junk", "Junk")
    await store.add_keyword(folder, [uid], "$Junk")
    result = await store.move(folder, [uid], junk.name)
    return after_move(request, result, "Marked as junk.")


@router.post("/mail/{folder:path}/{uid:int}/not-junk")
async def not_junk_message(request: Request, folder: str, uid: int, store: MailStoreDep) -> Response:
    """Back to the Inbox, marked $NotJunk so filters learn (Thunderbird's keyword)."""
    await store.add_keyword(folder, [uid], "$NotJunk")
    await store.set_flag(folder, [uid], "$Junk", False)
    result = await store.move(folder, [uid], "INBOX")
    return after_move(request, result, "Moved back to the Inbox as not junk.")


@router.post("/mail/{folder:path}/{uid:int}/delete")
async def delete_message(
    request: Request,
    folder: str,
    uid: int,
    session: SessionDep,
    store: MailStoreDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    folders = await store.list_folders()
    trash = await special_folder(store, "\\Trash", "Trash", folders)
    here = next((f for f in folders if f.name == folder), None)
    if here is not None and here.special_use in ("\\Trash", "\\Junk"):
        if confirm != "1":
            context = {
                "session": session,
                "folder": folder,
                "uid": uid,
                "label": here.label,
                "folder_url": folder_url,
            }
            return render(request, "pages/confirm_delete.html", context)
        await store.expunge(folder, [uid])
        done = urlencode({"done": "Deleted for good."})
        return RedirectResponse(url(request, folder_url(folder)) + "?" + done, status_code=303)
    result = await store.move(folder, [uid], trash.name)
    return after_move(request, result, "Moved to Trash.")


@router.post("/mail/{folder:path}/undo")
async def undo_move(
    request: Request,
    folder: str,
    store: MailStoreDep,
    uids: Annotated[str, Form()] = "",
    to: Annotated[str, Form()] = "",
) -> Response:
    """Move messages back: ``uids`` in ``folder`` (where they went) return to ``to``."""
    try:
        numbers = parse_uid_set(uids)
    except ValueError:
        numbers = []
    if not numbers or not to:
        raise FolderMissingError("There is nothing to undo.")
    await store.move(folder, numbers, to)
    done = urlencode({"done": "Undone."})
    return RedirectResponse(url(request, folder_url(to)) + "?" + done, status_code=303)


BULK_FLAGS = {
    "read": ("\\Seen", True),
    "unread": ("\\Seen", False),
    "star": ("\\Flagged", True),
    "unstar": ("\\Flagged", False),
}


@router.post("/mail/{folder:path}/bulk")
async def bulk_action(request: Request, folder: str, store: MailStoreDep) -> Response:
    """One action on the selected messages (``uid`` fields), or on all of them (``all=1``)."""
    form = await request.form()
    action = str(form.get("action", ""))
    if form.get("all") == "1":
        uids = await store.all_uids(folder)
    else:
        uids = sorted({int(v) for v in form.getlist("uid") if isinstance(v, str) and v.isdigit()})
    back = url(request, folder_url(folder))
    if not uids:
        return RedirectResponse(back + "?" + urlencode({"done": "Select messages first."}), status_code=303)
    count = f"{len(uids)} message{'s' if len(uids) != 1 else ''}"
    if action in BULK_FLAGS:
        flag, value = BULK_FLAGS[action]
        await store.set_flag(folder, uids, flag, value)
        return RedirectResponse(back + "?" + urlencode({"done": f"{count} marked."}), status_code=303)
    verb, _, keyword = action.partition(":")
    if verb in ("tag", "untag") and keyword.lower() in LABELS:
        await store.set_flag(folder, uids, keyword.lower(), verb == "tag")
        name = LABELS[keyword.lower()][0]
        words = f"{count} tagged {name}." if verb == "tag" else f"Tag {name} removed from {count}."
        return RedirectResponse(back + "?" + urlencode({"done": words}), status_code=303)
    if action == "archive":
        target = await special_folder(store, "\\Archive", "Archive")
    elif action == "delete":
        target = await special_folder(store, "\\Trash", "Trash")
    elif action == "junk":
        target = await special_folder(store, "\\Junk", "Junk")
        await store.add_keyword(folder, uids, "$Junk")
    elif action == "move":
        to = str(form.get("to", ""))
        folders = await store.list_folders()
        found = next((f for f in folders if f.name == to and f.selectable), None)
        if found is None:
            raise FolderMissingError(f"There is no folder called “{to}”; nothing was moved.")
        target = found
    else:
        raise FolderMissingError("Choose what to do with the selected messages.")
    if target.name == folder:
        return RedirectResponse(back, status_code=303)
    result = await store.move(folder, uids, target.name)
    return after_move(request, result, f"{count} moved to {target.label}.")
