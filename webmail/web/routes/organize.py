"""Tidying one message from the reader: move, delete, archive, junk, and undo."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from webmail.errors import WebmailError
from webmail.imap.organize import MoveResult, parse_uid_set, uid_set
from webmail.imap.store import MailStore
from webmail.imap.types import Folder, find_special
from webmail.mail.tags import LABELS
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, SessionDep
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
    found = find_special(folders, use)
    if found is None:
        raise FolderMissingError(f"This mailbox has no {label} folder.")
    return found


def after_move(request: Request, result: MoveResult | list[MoveResult], words: str) -> Response:
    """Back to the list, with an Undo offer that knows the messages' new UIDs (in every folder
    they went to: archiving by year or month may fill several)."""
    results = [r for r in (result if isinstance(result, list) else [result]) if r.new_uids]
    params: list[tuple[str, str]] = [("done", words)]
    if results:
        first, rest = results[0], results[1:]
        params += [
            ("undo_from", first.target),
            ("undo_to", first.source),
            ("undo_uids", uid_set(first.new_uids)),
        ]
        params += [("undo_more", f"{uid_set(r.new_uids)} {r.target}") for r in rest]
    source = result[0].source if isinstance(result, list) else result.source
    return RedirectResponse(url(request, folder_url(source)) + "?" + urlencode(params), status_code=303)


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
async def archive_message(
    request: Request, folder: str, uid: int, store: MailStoreDep, preferences: PreferencesDep
) -> Response:
    archive = await special_folder(store, "\\Archive", "Archive")
    results = await store.archive(folder, [uid], archive, preferences.archive_layout)
    return after_move(request, results, "Archived.")


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
    more: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Move messages back: ``uids`` in ``folder`` (where they went) return to ``to``; each
    ``more`` ("uids folder") is another folder the same action filled."""
    groups: list[tuple[str, list[int]]] = []
    try:
        groups.append((folder, parse_uid_set(uids)))
        for entry in more or []:
            listed, _, where = entry.partition(" ")
            groups.append((where, parse_uid_set(listed)))
    except ValueError:
        groups = []
    if not to or not any(group for _, group in groups):
        raise FolderMissingError("There is nothing to undo.")
    for where, group in groups:
        if group and where:
            await store.move(where, group, to)
    done = urlencode({"done": "Undone."})
    return RedirectResponse(url(request, folder_url(to)) + "?" + done, status_code=303)


BULK_FLAGS = {
    "read": ("\\Seen", True),
    "unread": ("\\Seen", False),
    "star": ("\\Flagged", True),
    "unstar": ("\\Flagged", False),
}


@router.post("/mail/{folder:path}/bulk")
async def bulk_action(
    request: Request, folder: str, store: MailStoreDep, session: SessionDep, preferences: PreferencesDep
) -> Response:
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
    here = (
        next((f for f in await store.list_folders() if f.name == folder), None)
        if action == "delete"
        else None
    )
    here_is_bin = here is not None and here.special_use in ("\\Trash", "\\Junk")
    here_label = here.label if here is not None else folder
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
        archive = await special_folder(store, "\\Archive", "Archive")
        if folder == archive.name or folder.startswith(archive.name + (archive.delimiter or "/")):
            return RedirectResponse(back, status_code=303)
        results = await store.archive(folder, uids, archive, preferences.archive_layout)
        return after_move(request, results, f"{count} moved to {archive.label}.")
    if action == "delete" and here_is_bin:
        if form.get("confirm") != "1":
            context = {"session": session, "folder": folder, "uids": uids, "count": count, "label": here_label,
                       "folder_url": folder_url}  # fmt: skip
            return render(request, "pages/confirm_bulk_delete.html", context)
        await store.expunge(folder, uids)
        return RedirectResponse(
            back + "?" + urlencode({"done": f"{count} deleted for good."}), status_code=303
        )
    if action == "delete":
        target = await special_folder(store, "\\Trash", "Trash")
    elif action == "junk":
        target = await special_folder(store, "\\Junk", "Junk")
        await store.add_keyword(folder, uids, "$Junk")
    elif action in ("move", "copy"):
        to = str(form.get("to", ""))
        folders = await store.list_folders()
        found = next((f for f in folders if f.name == to and f.selectable), None)
        if found is None:
            raise FolderMissingError(f"There is no folder called “{to}”; nothing was moved.")
        target = found
    else:
        raise FolderMissingError("Choose what to do with the selected messages.")
    if action == "copy":
        await store.copy(folder, uids, target.name)
        return RedirectResponse(
            back + "?" + urlencode({"done": f"{count} copied to {target.label}."}), status_code=303
        )
    if target.name == folder:
        return RedirectResponse(back, status_code=303)
    result = await store.move(folder, uids, target.name)
    return after_move(request, result, f"{count} moved to {target.label}.")
