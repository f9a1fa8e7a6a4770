"""Tidying messages from the reader (one message) and the list (a selection): move, copy, delete,
archive, junk, flags and tags, and undo.

The rules live in ``imap.actions.MailboxActions``; these routes read the form and turn the
outcome into a redirect with a flash message (and its Undo).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from webmail.errors import FormError
from webmail.imap.actions import BINS, ActionOutcome
from webmail.imap.store import MailStore
from webmail.imap.uidset import UIDSet, parse_uid_set, uid_set
from webmail.limits import Limits
from webmail.mail.query import DEFAULT_SCOPE, FIELDS, QueryError, parse_search
from webmail.mail.tags import LABELS
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailboxActionsDep, MailStoreDep, PreferencesDep, SessionDep, limits_of
from webmail.web.flash import UndoMove, flash
from webmail.web.htmx import redirect
from webmail.web.listing import folder_url
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

FormText = Annotated[str, Form()]
READER_WORDS = {
    "archive": "Archived.",
    "delete": "Moved to Trash.",
    "junk": "Marked as junk.",
    "not-junk": "Moved back to the Inbox as not junk.",
}
MOVING = ("archive", "delete", "junk", "move")  # what takes messages out of the list
BULK_FLAGS = {
    "read": ("\\Seen", True),
    "unread": ("\\Seen", False),
    "star": ("\\Flagged", True),
    "unstar": ("\\Flagged", False),
}


def undo_of(outcome: ActionOutcome) -> UndoMove | None:
    """The Undo for the messages' new UIDs, in every folder they went to (archiving by year or
    month may fill several); None when the server did not say them."""
    moves = outcome.undoable
    if not moves:
        return None
    first, *rest = moves
    more = tuple(f"{uid_set(move.new_uids)} {move.target}" for move in rest)
    return UndoMove(first.target, uid_set(first.new_uids), first.source, more)


async def after(
    request: Request, outcome: ActionOutcome, words: str, *, refused_to: str, back: str | None = None
) -> Response:
    """Back to the list (``back``, else the folder), saying ``words`` with an Undo; or, if
    refused, to ``refused_to`` with the reason."""
    if outcome.refused is not None:
        await flash(request, outcome.refused)
        return redirect(request, back or url(request, refused_to))
    await flash(request, words, undo_move=undo_of(outcome))
    return redirect(request, back or url(request, folder_url(outcome.source)))


def target_label(outcome: ActionOutcome) -> str:
    return outcome.target.label if outcome.target is not None else outcome.source


def reader_words(outcome: ActionOutcome) -> str:
    if outcome.deleted_for_good:
        return "Deleted for good."
    if outcome.action == "move":
        return f"Moved to {target_label(outcome)}."
    return READER_WORDS[outcome.action]


def bulk_words(outcome: ActionOutcome) -> str:
    count = messages(outcome.count)
    if outcome.deleted_for_good:
        return f"{count} deleted for good."
    return f"{count} {'copied' if outcome.action == 'copy' else 'moved'} to {target_label(outcome)}."


def messages(count: int) -> str:
    return f"{count} message{'s' if count != 1 else ''}"


async def from_reader(request: Request, outcome: ActionOutcome, uid: int) -> Response:
    return await after(
        request, outcome, reader_words(outcome), refused_to=f"{folder_url(outcome.source)}/{uid}"
    )


def chosen_folder(value: object) -> str:
    """The ``to`` field: the folder to move or copy to."""
    if not isinstance(value, str) or not value:
        raise FormError("to", "Choose the folder to move or copy to; nothing was changed.")
    return value


def uid_field(field: str, text: str, limit: int) -> UIDSet:
    """A UID set from a form, as ranges (``1:4000000000`` is two numbers, never expanded)."""
    try:
        return parse_uid_set(text, max_ranges=limit)
    except ValueError:
        raise FormError(field, "These message numbers make no sense; nothing was changed.") from None


async def selected_uids(form: FormData, store: MailStore, folder: str, limit: int) -> list[int]:
    """The ``uid`` fields of the list's checkboxes (a conversation's box holds "12,15,16", the
    confirmation page a set such as "3:9,12"); a set naming more than ``limit`` is resolved to
    the folder's real messages by the server."""
    texts = [value for value in form.getlist("uid") if isinstance(value, str)]
    try:
        chosen = parse_uid_set(",".join(texts), max_ranges=limit)
        if chosen.span <= limit:
            return chosen.expand(limit)
        return await store.existing(folder, chosen, limit)
    except ValueError:
        raise FormError("uid", "The selection makes no sense; reload the page and select again.") from None


async def chosen_uids(form: FormData, store: MailStore, folder: str, limits: Limits) -> list[int]:
    """What the user selected: the ticked rows, or with ``all=1`` every message the list showed,
    that is the search results when ``q`` was searched, never newer than ``upto`` (the highest
    UID the page knew)."""
    if form.get("all") != "1":
        return await selected_uids(form, store, folder, limits.max_uids_per_request)
    q = str(form.get("q", ""))
    if q.strip():
        scope = tuple(name for name in str(form.get("scope", "")).split(",") if name in FIELDS)
        try:
            search = parse_search(q, scope=scope or DEFAULT_SCOPE, limits=limits)
        except QueryError as exc:
            raise FormError("q", exc.user_message) from None
        uids = await store.matching_uids(folder, search.criteria)
    else:
        uids = await store.all_uids(folder)
    upto = str(form.get("upto", ""))
    if upto.isascii() and upto.isdigit():
        uids = [uid for uid in uids if uid <= int(upto)]
    return uids


async def in_bin(store: MailStore, folder: str) -> bool:
    """Whether deleting in ``folder`` deletes for good (it asks on its own, with the count)."""
    here = next((f for f in await store.list_folders() if f.name == folder), None)
    return here is not None and here.special_use in BINS


def back_to(request: Request, form: FormData, folder: str) -> str:
    """The list the form came from (``next``: its search, page and view), if it is this folder's."""
    list_url = url(request, folder_url(folder))
    value = str(form.get("next", ""))
    if value == list_url or (value.startswith(list_url + "?") and "\\" not in value):
        return value
    if value == url(request, "/settings/storage"):  # "Free up space" lists messages of every folder
        return value
    return list_url


@router.post("/mail/{folder:path}/{uid:int}/move")
async def move_message(
    request: Request, folder: str, uid: int, actions: MailboxActionsDep, to: FormText = ""
) -> Response:
    return await from_reader(request, await actions.move(folder, [uid], chosen_folder(to)), uid)


@router.post("/mail/{folder:path}/{uid:int}/archive")
async def archive_message(
    request: Request, folder: str, uid: int, actions: MailboxActionsDep, preferences: PreferencesDep
) -> Response:
    return await from_reader(request, await actions.archive(folder, [uid], preferences.archive_layout), uid)


@router.post("/mail/{folder:path}/{uid:int}/junk")
async def junk_message(request: Request, folder: str, uid: int, actions: MailboxActionsDep) -> Response:
    return await from_reader(request, await actions.junk(folder, [uid]), uid)


@router.post("/mail/{folder:path}/{uid:int}/not-junk")
async def not_junk_message(request: Request, folder: str, uid: int, actions: MailboxActionsDep) -> Response:
    return await from_reader(request, await actions.not_junk(folder, [uid]), uid)


@router.post("/mail/{folder:path}/{uid:int}/delete")
async def delete_message(
    request: Request,
    folder: str,
    uid: int,
    session: SessionDep,
    actions: MailboxActionsDep,
    confirm: FormText = "",
) -> Response:
    outcome = await actions.delete(folder, [uid], confirmed=confirm == "1")
    if outcome.confirm_in is not None:
        context = {"session": session, "folder": folder, "uid": uid, "label": outcome.confirm_in.label,
                   "folder_url": folder_url}  # fmt: skip
        return render(request, "pages/confirm_delete.html", context)
    return await from_reader(request, outcome, uid)


@router.post("/mail/{folder:path}/undo")
async def undo_move(
    request: Request,
    folder: str,
    actions: MailboxActionsDep,
    uids: FormText = "",
    to: FormText = "",
    more: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Move messages back: ``uids`` in ``folder`` (where they went) return to ``to``; each
    ``more`` ("uids folder") is another folder the same action filled."""
    if not to:
        raise FormError("to", "Undo needs the folder the messages came from; nothing was changed.")
    limit = limits_of(request).max_uids_per_request
    moved = [(folder, uid_field("uids", uids, limit))]
    for entry in more or []:
        listed, _, where = entry.partition(" ")
        if not where:
            raise FormError("more", "Undo needs the folder of each group of messages; nothing was changed.")
        moved.append((where, uid_field("more", listed, limit)))
    if not any(group for _, group in moved):
        raise FormError("uids", "There is nothing to undo.")
    try:
        outcome = await actions.undo(moved, to, limit)
    except ValueError:
        raise FormError(
            "uids", f"Undo moves at most {limit} messages at once; nothing was changed."
        ) from None
    if not outcome.count:
        raise FormError("uids", "These messages are not there any more; nothing was changed.")
    await flash(request, "Undone.")
    return redirect(request, url(request, folder_url(to)))


async def export_chosen(
    request: Request, form: FormData, store: MailStore, folder: str, kind: str
) -> Response:
    """The selection bar's Export: on to the export's download (the whole search or folder for
    "all"), so the CSRF token never lands in a GET URL."""
    params = {"format": kind}
    progress = str(form.get("progress", ""))
    if progress:
        params["progress"] = progress[:64]  # the page's id for the export's progress events
    if form.get("all") == "1":
        if form.get("q"):
            params["q"] = str(form.get("q"))
    else:
        uids = await chosen_uids(form, store, folder, limits_of(request))
        if not uids:
            await flash(request, "Select messages first.")
            return redirect(request, back_to(request, form, folder))
        params["uids"] = uid_set(uids)
    return RedirectResponse(url(request, f"{folder_url(folder)}/export?{urlencode(params)}"), status_code=303)


@router.post("/mail/{folder:path}/bulk")
async def bulk_action(
    request: Request,
    folder: str,
    store: MailStoreDep,
    actions: MailboxActionsDep,
    session: SessionDep,
    preferences: PreferencesDep,
) -> Response:
    """One action on the selected messages (``uid`` fields), or on all the list showed (``all=1``).

    The action is the ``action`` field ("archive", "tag:$label1", "move" with ``to`` or
    "move:Folder"); moving more than a page of messages at once asks first.
    """
    form = await request.form()
    back = back_to(request, form, folder)
    action = str(form.get("action", ""))
    verb, _, argument = action.partition(":")
    if verb == "export" and argument in ("mbox", "zip"):
        return await export_chosen(request, form, store, folder, argument)
    uids = await chosen_uids(form, store, folder, limits_of(request))
    if not uids:
        await flash(request, "Select messages first.")
        return redirect(request, back)
    confirmed = form.get("confirm") == "1"
    if (
        verb in MOVING
        and len(uids) > preferences.page_size
        and not confirmed
        and not (verb == "delete" and await in_bin(store, folder))
    ):
        target = argument or str(form.get("to", ""))
        context = {"session": session, "folder": folder, "uids": uid_set(uids), "count": messages(len(uids)),
                   "action": verb, "to": target, "back": back, "folder_url": folder_url}  # fmt: skip
        return render(request, "pages/confirm_bulk.html", context)
    if action in BULK_FLAGS:
        flag, value = BULK_FLAGS[action]
        await store.set_flag(folder, uids, flag, value)
        await flash(request, f"{messages(len(uids))} marked.")
        return redirect(request, back)
    if verb in ("tag", "untag") and argument.lower() in LABELS:
        tagged, name, count = verb == "tag", LABELS[argument.lower()][0], messages(len(uids))
        await store.set_flag(folder, uids, argument.lower(), tagged)
        await flash(request, f"{count} tagged {name}." if tagged else f"Tag {name} removed from {count}.")
        return redirect(request, back)
    if verb == "archive":
        outcome = await actions.archive(folder, uids, preferences.archive_layout)
    elif verb == "delete":
        outcome = await actions.delete(folder, uids, confirmed=confirmed)
    elif verb == "junk":
        outcome = await actions.junk(folder, uids)
    elif verb == "move":
        outcome = await actions.move(folder, uids, chosen_folder(argument or form.get("to")))
    elif verb == "copy":
        outcome = await actions.copy(folder, uids, chosen_folder(argument or form.get("to")))
    else:
        raise FormError("action", "Choose what to do with the selected messages.")
    if outcome.confirm_in is not None:
        context = {"session": session, "folder": folder, "uids": uid_set(uids), "count": messages(len(uids)),
                   "label": outcome.confirm_in.label, "back": back, "folder_url": folder_url}  # fmt: skip
        return render(request, "pages/confirm_bulk_delete.html", context)
    return await after(request, outcome, bulk_words(outcome), refused_to=folder_url(folder), back=back)
