"""Writing and sending: GET /compose (new, reply, reply all, forward, a saved draft),
attachments uploaded to disk as they arrive, drafts saved to the Drafts folder, POST /compose/send.

Replies, forwards and signatures are drafted in ``mail/drafting.py``; sending, now or from the
outbox, is ``smtp/sending.py``. These routes read the form, call them and render the outcome."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import partial
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from webmail.account.identities import SenderIdentity, default_of, pick_for_reply
from webmail.auth.sessions import Session
from webmail.errors import WebmailError
from webmail.imap.errors import FolderMissingError, QuotaExceededError
from webmail.imap.store import MailStore
from webmail.imap.types import split_ref
from webmail.limits import Limits
from webmail.mail.compose import ComposeError, Draft, build_draft, mentions_attachment, verbatim_fields
from webmail.mail.drafting import add_signature, forward_draft, reply_draft
from webmail.mail.editor import clean_editor_html, html_to_text, text_to_editor_html
from webmail.mail.render import Headers, attachment_name, decode_part, parse_headers
from webmail.smtp import sending
from webmail.smtp.submit import envelope_sender
from webmail.smtp.uploads import UploadsFullError, UploadStore
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, ServicesDep, SessionDep, limits_of
from webmail.web.flash import UndoSend, flash
from webmail.web.folders import FolderNode, folder_tree
from webmail.web.htmx import HtmxDetails
from webmail.web.listing import folder_url, user_zone
from webmail.web.templating import render, url

logger = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(csrf_protect)])
DRAFT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
PANEL = "compose-dock"  # HX-Target of the mailbox's panel and inline replies: the form alone


@dataclass
class ComposeState:
    """What the compose page shows and its form carries back."""

    draft: Draft
    draft_id: str
    identities: list[SenderIdentity]
    identity: SenderIdentity
    reply_ref: str = ""  # "<folder>/<uid>" of the message answered or forwarded
    reply_kind: str = ""  # "reply" or "forward"
    html_mode: bool = False
    attachment_ok: bool = False  # the user confirmed: no attachment, on purpose
    notice: str | None = None  # said once on the page, e.g. that a forward carries only some


async def original_text(store: MailStore, folder: str, uid: int) -> tuple[Headers, str]:
    """The original's headers and its plain text (for quoting)."""
    fetched = await store.message(folder, uid, prefer_html=False)
    headers = parse_headers(fetched.header)
    if headers.date is None:  # no Date (or none that can be read): when it arrived, as the list shows
        headers = replace(headers, date=fetched.summary.internaldate)
    texts = []
    for part in fetched.plan.body:
        raw = fetched.contents.get(part.section)
        if raw is not None and part.content_type == "text/plain":
            texts.append(decode_part(part, raw)[0])
    return headers, "\n".join(texts)


async def drafts_folder(store: MailStore) -> str | None:
    """The Drafts folder, created if the account has none; None if it cannot be."""
    try:
        return (await store.special_folder("\\Drafts")).name
    except FolderMissingError:
        return None


async def carry_attachments(
    store: MailStore, uploads: UploadStore, user: str, draft_id: str, folder: str, uid: int, limit: int
) -> str | None:
    """The original's attachments into this draft, server to server (the browser gets none),
    at most ``limit`` of them; the words to say when there were more."""
    fetched = await store.message(folder, uid, prefer_html=False)
    parts = [part for part in fetched.plan.attachments if not part.is_multipart]
    for part in parts[:limit]:
        chunks = store.stream(folder, uid, part.section, part.encoding)
        try:
            await uploads.save(user, draft_id, attachment_name(part), part.content_type, chunks)
        except UploadsFullError as exc:
            return exc.user_message
    if len(parts) > limit:
        return (f"The original has {len(parts)} attachments; only the first {limit} are forwarded. "
                "Forward it as an attachment to send them all.")  # fmt: skip
    return None


@router.get("/compose")
async def compose(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    store: MailStoreDep,
    preferences: PreferencesDep,
) -> Response:
    identities = await services.identities.for_user(session.user)
    params = request.query_params
    reopened = split_ref(params.get("draft", ""))
    if reopened is not None:
        return await reopen_draft(request, services, session, store, identities, *reopened)
    kept = params.get("draft_id", "")  # a draft by its id: "pop out" of the panel, saved just before
    if DRAFT_ID.fullmatch(kept) and (folder := await drafts_folder(store)) is not None:
        uid = await store.find_draft(folder, kept)
        if uid is not None:
            return await reopen_draft(request, services, session, store, identities, folder, uid)
    as_new = split_ref(params.get("edit", ""))
    if as_new is not None:  # "Edit as new": any message as the start of a new one
        return await reopen_draft(request, services, session, store, identities, *as_new, fresh=True)
    identity = default_of(identities)
    state = ComposeState(
        Draft(sender=identity.from_header, to=params.get("to", "")[:2000]),
        secrets.token_urlsafe(12),
        identities,
        identity,
        html_mode=preferences.compose_html,
    )
    for mode in ("reply", "reply_all", "forward"):
        ref = split_ref(params.get(mode, ""))
        if ref is not None:
            await start_from_original(
                state, mode, ref, services, session, store, params.get("as") == "attachment"
            )
            break
    state.draft = add_signature(
        state.draft,
        text=state.identity.signature_text,
        html=state.identity.signature_html,
        html_mode=state.html_mode,
    )
    return await compose_page(request, services, session, store, state, notice=state.notice)


async def start_from_original(
    state: ComposeState,
    mode: str,
    ref: tuple[str, int],
    services: ServicesDep,
    session: Session,
    store: MailStore,
    as_attachment: bool,
) -> None:
    """A reply, reply to all or forward of the message at ``ref``: the draft, the identity it
    was addressed to, and for a forward the original's attachments (or the original itself)."""
    headers, text = await original_text(store, *ref)
    if mode == "forward":
        to = state.draft.to
        state.draft = forward_draft(
            headers, text, sender=state.identity.from_header, inline=not as_attachment
        )
        state.draft.to = to
        if as_attachment:
            name = f"{headers.subject or 'message'}.eml"
            chunks = store.stream(ref[0], ref[1], "")
            await services.uploads.save(session.user, state.draft_id, name, "message/rfc822", chunks)
        else:
            state.notice = await carry_attachments(store, services.uploads, session.user, state.draft_id, *ref,
                                                   services.settings.max_forward_attachments)  # fmt: skip
    else:
        state.identity = pick_for_reply(state.identities, [a.email for a in (*headers.to, *headers.cc)])
        own = [identity.email for identity in state.identities] + [session.user]
        state.draft = reply_draft(
            headers, text, sender=state.identity.from_header, own_addresses=own, reply_all=mode == "reply_all"
        )
    state.reply_ref = f"{ref[0]}/{ref[1]}"
    state.reply_kind = "forward" if mode == "forward" else "reply"


async def reopen_draft(
    request: Request,
    services: ServicesDep,
    session: Session,
    store: MailStore,
    identities: list[SenderIdentity],
    folder: str,
    uid: int,
    *,
    fresh: bool = False,
) -> Response:
    """Continue a draft saved earlier (here or by another program): fields, text, attachments.
    With ``fresh``, the message only serves as the start of a new one."""
    raw = b"".join([chunk async for chunk in store.stream(folder, uid, "")])
    message: EmailMessage = message_from_bytes(raw, policy=policy.default)

    kept = verbatim_fields(raw)

    def header(name: str) -> str:
        return kept.get(name) or str(message.get(name) or "")

    draft_id = "" if fresh else header("X-Webmail-Draft")
    if not DRAFT_ID.fullmatch(draft_id):
        draft_id = secrets.token_urlsafe(12)
    sender = header("From")
    identity = next((i for i in identities if i.email.lower() in sender.lower()), default_of(identities))
    draft = Draft(
        sender=identity.from_header,
        to=header("To"),
        cc=header("Cc"),
        bcc=header("Bcc"),
        subject=header("Subject"),
        in_reply_to=header("In-Reply-To"),
        references=header("References"),
    )
    html_part = message.get_body(("html",))
    plain_part = message.get_body(("plain",))
    if (
        html_part is not None
        and plain_part is not None
        and message.get_content_type() == "multipart/alternative"
    ):
        draft.html = clean_editor_html(str(html_part.get_content()))
    draft.body = str(plain_part.get_content()) if plain_part is not None else html_to_text(draft.html)
    services.uploads.discard(session.user, draft_id)
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else str(part.get_content()).encode()

        async def once(data: bytes = data) -> Any:
            yield data

        await services.uploads.save(session.user, draft_id, part.get_filename() or "attachment",
                                    part.get_content_type(), once())  # fmt: skip
    state = ComposeState(
        draft,
        draft_id,
        identities,
        identity,
        reply_ref="" if fresh else header("X-Webmail-Reply-Ref"),
        reply_kind="" if fresh else header("X-Webmail-Reply-Kind"),
        html_mode=bool(draft.html),
    )
    return await compose_page(request, services, session, store, state)


async def compose_page(
    request: Request,
    services: ServicesDep,
    session: Session,
    store: MailStore,
    state: ComposeState,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    ask_attachment: bool = False,
) -> Response:
    """The compose page inside the app's chrome (the folders beside it), or for the mailbox's
    panel the form alone. ``error`` is a refusal; ``notice`` is neutral news (an undone send, a
    discarded message brought back)."""
    panel = bool(HtmxDetails(request)) and HtmxDetails(request).target == PANEL
    context = {
        "reply_kind": state.reply_kind,
        "session": session,
        "draft": state.draft,
        "draft_id": state.draft_id,
        "reply_ref": state.reply_ref,
        "error": error,
        "notice": notice,
        "folder_url": folder_url,
        "tree": [] if panel else await sidebar_tree(store),
        "html_mode": state.html_mode,
        "identities": state.identities,
        "identity": state.identity,
        "senders": await services.senders.rule(session.user),
        "attachments": services.uploads.stored(session.user, state.draft_id),
        "limit_mb": services.settings.max_attachment_mb,
        "ask_attachment": ask_attachment,
        # Ours: sanitised on the way in, or made from escaped text.
        "editor_html": state.draft.html or text_to_editor_html(state.draft.body),
    }
    block = "compose_panel" if panel else None
    return render(request, "pages/compose.html", context, status_code=status_code, block_name=block)


async def sidebar_tree(store: MailStore) -> list[FolderNode]:
    """The subscribed folders for the side column; none when the server cannot say (the page
    is still worth showing: what is written must not be lost to a folder list)."""
    try:
        return folder_tree(await store.list_folders(), show_all=False)
    except WebmailError:
        return []


def attachments_partial(request: Request, services: ServicesDep, session: Session, draft_id: str,
                        error: str = "", status_code: int = 200) -> Response:  # fmt: skip
    context = {
        "session": session,
        "draft_id": draft_id,
        "attachments": services.uploads.stored(session.user, draft_id),
        "limit_mb": services.settings.max_attachment_mb,
        "error": error,
    }
    return render(request, "partials/_attachments.html", context, status_code=status_code)


@router.post("/compose/{draft_id}/attachments")
async def upload_attachment(
    request: Request, services: ServicesDep, session: SessionDep, draft_id: str
) -> Response:
    """One file as the raw request body (name in ``X-File-Name``), streamed to disk."""
    name = unquote(request.headers.get("x-file-name", "")) or "attachment"
    content_type = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    declared = int(request.headers.get("content-length") or 0)
    uploads = services.uploads
    try:
        if declared > uploads.room(session.user, draft_id):
            raise uploads.too_large(session.user, draft_id, name)
        await uploads.save(session.user, draft_id, name, content_type, request.stream())
    except ComposeError as exc:
        status = exc.status_code if isinstance(exc, UploadsFullError) else 413
        return attachments_partial(request, services, session, draft_id, exc.user_message, status)
    return attachments_partial(request, services, session, draft_id)


@router.get("/compose/{draft_id}/attachments")
async def list_attachments(
    request: Request, services: ServicesDep, session: SessionDep, draft_id: str
) -> Response:
    return attachments_partial(request, services, session, draft_id)


@router.post("/compose/{draft_id}/attachments/{attachment_id}/delete")
async def remove_attachment(
    request: Request, services: ServicesDep, session: SessionDep, draft_id: str, attachment_id: str
) -> Response:
    services.uploads.remove(session.user, draft_id, attachment_id)
    return attachments_partial(request, services, session, draft_id)


def text_fields(form: FormData) -> dict[str, str]:
    """The form's text fields (no files, no CSRF token): what the outbox keeps for Undo."""
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


async def state_of(services: ServicesDep, session: Session, fields: Mapping[str, Any]) -> ComposeState:
    """The compose form's fields (posted, or kept by the outbox) as the page's state."""

    def field(name: str) -> str:
        value = fields.get(name, "")
        return value if isinstance(value, str) else ""

    identities = await services.identities.for_user(session.user)
    chosen = field("identity")
    identity = next((i for i in identities if str(i.id) == chosen), None) or default_of(identities)
    draft = Draft(
        sender=identity.from_header,
        reply_to=identity.reply_to,
        bcc_self=identity.bcc_self,
        to=field("to"),
        cc=field("cc"),
        bcc=field("bcc"),
        subject=field("subject"),
        body=field("body"),
        in_reply_to=field("in_reply_to"),
        references=field("references"),
    )
    html_mode = field("format") == "html"
    if html_mode:
        draft.html = clean_editor_html(field("body_html"))
        draft.body = html_to_text(draft.html)
    return ComposeState(
        draft,
        field("draft_id") or secrets.token_urlsafe(12),
        identities,
        identity,
        reply_ref=field("reply_ref"),
        reply_kind=field("reply_kind"),
        html_mode=html_mode,
        attachment_ok=field("attachment_ok") == "1",
    )


@router.post("/compose/draft")
async def save_draft(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """Autosave (every 30 s while typing, and when the page is left): the Drafts folder's copy."""
    async with request.form() as form:
        state = await state_of(services, session, text_fields(form))
    folder = await drafts_folder(store)
    if folder is None:
        return Response(
            "This mailbox has no Drafts folder; the text is kept in this browser only.", status_code=409
        )
    state.draft.attachments = services.uploads.attachments(session.user, state.draft_id)
    try:
        await store.save_draft(folder, await draft_bytes(state, limits_of(request)), state.draft_id)
    except QuotaExceededError:
        return Response(
            "Not saved in Drafts: mailbox full. The text stays here and in this browser; free up space to save it.",
            status_code=507,
            media_type="text/plain",
        )
    return Response("Draft saved", media_type="text/plain")


async def draft_bytes(state: ComposeState, limits: Limits) -> bytes:
    """The Drafts folder's copy, built in a worker thread (long lists take the email package a while)."""
    return await anyio.to_thread.run_sync(
        partial(build_draft, state.draft, state.draft_id, state.reply_ref, state.reply_kind, limits=limits)
    )


async def form_attachments(form: FormData, uploads: UploadStore, user: str, draft_id: str) -> None:
    """Files sent with the form itself (without JavaScript) join the draft's stored ones."""
    for item in form.getlist("attachments"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue

        async def chunks(item: UploadFile = item) -> Any:
            while chunk := await item.read(1024 * 1024):
                yield chunk

        await uploads.save(
            user, draft_id, item.filename, item.content_type or "application/octet-stream", chunks()
        )


@router.post("/compose/send")
async def send_message(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """Send now, or hand it to the outbox for the undo window or "Send later"."""
    async with request.form() as form:
        fields = text_fields(form)
        state = await state_of(services, session, fields)
        try:
            await form_attachments(form, services.uploads, session.user, state.draft_id)
        except UploadsFullError as exc:  # the text is fine: Drafts keeps it too
            return await kept_as_draft(request, services, session, store, state, exc.user_message, 507)
        except WebmailError as exc:
            return await compose_page(request, services, session, store, state, error=exc.user_message,
                                status_code=exc.status_code)  # fmt: skip
    uploads = services.uploads
    if (
        not uploads.stored(session.user, state.draft_id)
        and not state.attachment_ok
        and mentions_attachment(state.draft.body)
    ):
        words = "Your message mentions an attachment, but nothing is attached."
        return await compose_page(
            request, services, session, store, state, notice=words, status_code=422, ask_attachment=True
        )
    try:
        state.draft.attachments = uploads.attachments(session.user, state.draft_id)
        outgoing = await anyio.to_thread.run_sync(
            partial(
                sending.prepare,
                state.draft,
                draft_id=state.draft_id,
                reply_ref=state.reply_ref,
                reply_kind=state.reply_kind,
                limits=limits_of(request),
            )  # fmt: skip
        )
        send_at = await send_time(request, services, session, fields)
    except ComposeError as exc:
        return await compose_page(request, services, session, store, state, error=exc.user_message,
                            status_code=exc.status_code)  # fmt: skip
    except Exception:  # a bug must not lose what was written: Drafts keeps it, the form says so
        logger.exception("building a message to send failed")
        return await kept_as_draft(request, services, session, store, state, UNEXPECTED_SEND_ERROR, 500)
    if send_at is not None:
        form_kept = {**fields, "draft_id": state.draft_id}
        outbox_id = await services.outbox.queue(
            session.user, session.password, outgoing, form=form_kept, send_at=send_at
        )
        return await queued_response(request, outbox_id, send_at, bool(fields.get("send_at")))
    outcome = await sending.send(
        outgoing, store, settings=services.settings, uploads=uploads, contacts=services.contacts
    )
    await services.senders.record(session.user, envelope_sender(outgoing.message), outcome.error)
    if outcome.error is not None:
        # Nothing written is lost: the form comes back filled in, with the reason (and the
        # message is in Drafts in case the browser closes).
        return await compose_page(request, services, session, store, state, error=outcome.words,
                            status_code=outcome.error.status_code)  # fmt: skip
    response = await to_inbox(request, outcome.words)
    response.headers["X-Draft-Sent"] = state.draft_id
    return response


UNEXPECTED_SEND_ERROR = "Something went wrong on our side while sending; nothing was sent."


async def kept_as_draft(
    request: Request,
    services: ServicesDep,
    session: Session,
    store: MailStore,
    state: ComposeState,
    words: str,
    status_code: int,
) -> Response:
    """The form back, filled in, with why it was not sent; the message is kept in Drafts too
    (in case the browser closes), which the words say when it worked."""
    try:
        folder = await drafts_folder(store)
        if folder is not None:
            await store.save_draft(folder, await draft_bytes(state, limits_of(request)), state.draft_id)
            words = f"{words} It is kept in {folder}."
    except Exception:
        logger.warning("keeping an unsent message in Drafts failed", exc_info=True)
    return await compose_page(request, services, session, store, state, error=words, status_code=status_code)


async def send_time(
    request: Request, services: ServicesDep, session: Session, fields: Mapping[str, str]
) -> datetime | None:
    """When the worker should send it (None: now, in this request), from the user's choice,
    undo window and time zone."""
    preferences = await services.preferences.get(session.user)
    undo_seconds = preferences.undo_send_seconds
    return sending.send_time(
        later=fields.get("send_later") == "1",
        at=fields.get("send_at", ""),
        zone=user_zone(request, preferences),
        undo_seconds=services.settings.undo_send_seconds if undo_seconds is None else undo_seconds,
    )


async def to_inbox(
    request: Request, words: str, *, undo_send: UndoSend | None = None, seconds: int | None = None
) -> RedirectResponse:
    """Back to the Inbox, where ``words`` show once as a toast (with Undo while it waits)."""
    await flash(request, words, seconds=seconds, undo_send=undo_send)
    return RedirectResponse(url(request, "/mail/INBOX"), status_code=303)


async def queued_response(request: Request, outbox_id: int, send_at: datetime, later: bool) -> Response:
    if later:
        return await to_inbox(
            request, f"Scheduled for {send_at:%Y-%m-%d %H:%M} UTC. It goes even if you close the browser."
        )
    seconds = max(1, round((send_at - datetime.now(UTC)).total_seconds()))
    return await to_inbox(
        request, f"Sending in {seconds} seconds.", undo_send=UndoSend(outbox_id), seconds=seconds
    )


@router.post("/compose/outbox/{outbox_id:int}/undo")
async def undo_send(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep, outbox_id: int
) -> Response:
    """Stop a waiting message and bring it back to the editor, attachments and all."""
    fields = await services.outbox.cancel(session.user, outbox_id)
    state = await state_of(services, session, fields)
    words = "Not sent. The message is back here for you to change."
    return await compose_page(request, services, session, store, state, notice=words)


@router.post("/compose/discard")
async def discard(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """Throw the message away: its copies in Drafts go; what was written rides in the toast's
    Undo (in the session, never the URL), and the attachments stay until uploads expire."""
    async with request.form() as form:
        fields = text_fields(form)
    state = await state_of(services, session, fields)
    folder = await drafts_folder(store)
    if folder is not None:
        await store.discard_drafts(folder, state.draft_id)
    kept = {**fields, "draft_id": state.draft_id}
    await flash(request, "Message discarded.", undo_discard=kept)
    return RedirectResponse(url(request, "/mail/INBOX"), status_code=303)


@router.post("/compose/restore")
async def restore(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """Undo of Discard: the discarded message back in the editor, attachments and all."""
    async with request.form() as form:
        state = await state_of(services, session, text_fields(form))
    return await compose_page(request, services, session, store, state, notice="The message is back.")


@router.get("/compose/outbox")
async def outbox(
    request: Request, services: ServicesDep, session: SessionDep, preferences: PreferencesDep
) -> Response:
    context = {
        "session": session,
        "entries": await services.outbox.entries(session.user),
        "tz": user_zone(request, preferences),
    }
    return render(request, "pages/outbox.html", context)
