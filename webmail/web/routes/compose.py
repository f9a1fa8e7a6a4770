"""Writing and sending: GET /compose (new, reply, reply all, forward, a saved draft),
attachments uploaded to disk as they arrive, drafts saved to the Drafts folder, POST /compose/send."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from webmail.account.identities import SenderIdentity, default_of, pick_for_reply
from webmail.auth.sessions import Session
from webmail.errors import WebmailError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder, find_special
from webmail.mail.compose import (
    ComposeError,
    Draft,
    build_draft,
    build_message,
    forward_subject,
    parse_recipients,
    quote,
    reply_subject,
)
from webmail.mail.editor import clean_editor_html, html_to_text, text_to_editor_html
from webmail.mail.render import attachment_name, decode_part, parse_headers
from webmail.smtp.submit import send_message
from webmail.smtp.uploads import UploadStore
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, ServicesDep, SessionDep
from webmail.web.listing import folder_url, user_zone
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])

# "attached", "attachment", "enclosed", and the same in a few languages; quoted lines excluded.
MENTIONS_ATTACHMENT = re.compile(
    r"\b(attach(ed|ment|ments|ing)?|enclosed|anbei|angeh[äa]ngt|anhang|pi[èe]ce jointe|adjunto|allegat[oi])\b",
    re.IGNORECASE,
)


async def original_text(store: MailStore, folder: str, uid: int) -> tuple[Any, str]:
    """The original's headers and its plain text (for quoting)."""
    fetched = await store.message(folder, uid, prefer_html=False)
    headers = parse_headers(fetched.header)
    texts = []
    for part in fetched.plan.body:
        raw = fetched.contents.get(part.section)
        if raw is not None and part.content_type == "text/plain":
            texts.append(decode_part(part, raw)[0])
    return headers, "\n".join(texts)


def split_ref(value: str) -> tuple[str, int] | None:
    folder, _, uid = value.rpartition("/")
    return (folder, int(uid)) if folder and uid.isdigit() else None


async def drafts_folder(store: MailStore, folders: list[Folder] | None = None) -> str | None:
    folders = folders if folders is not None else await store.list_folders()
    found = find_special(folders, "\\Drafts")
    return found.name if found else None


async def carry_attachments(
    store: MailStore, uploads: UploadStore, user: str, draft_id: str, folder: str, uid: int
) -> None:
    """The original's attachments into this draft, server to server (the browser gets none)."""
    fetched = await store.message(folder, uid, prefer_html=False)
    for part in fetched.plan.attachments:
        chunks = store.stream(folder, uid, part.section, part.encoding)
        await uploads.save(user, draft_id, attachment_name(part), part.content_type, chunks)


@router.get("/compose")
async def compose(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    store: MailStoreDep,
    preferences: PreferencesDep,
) -> Response:
    identities = await services.identities.for_user(session.user)
    identity = default_of(identities)
    draft = Draft(sender=identity.from_header)
    draft_id = secrets.token_urlsafe(12)
    reply_ref = ""
    reply_kind = ""
    html_mode = preferences.compose_html
    params = request.query_params
    draft.to = params.get("to", "")[:2000]
    reopened = split_ref(params.get("draft", ""))
    if reopened is not None:
        return await reopen_draft(request, services, session, store, identities, *reopened)
    as_new = split_ref(params.get("edit", ""))
    if as_new is not None:  # "Edit as new": any message as the start of a new one
        return await reopen_draft(request, services, session, store, identities, *as_new, fresh=True)
    for mode in ("reply", "reply_all", "forward"):
        ref = split_ref(params.get(mode, ""))
        if ref is None:
            continue
        headers, text = await original_text(store, *ref)
        when = headers.date.strftime("%a, %d %b %Y %H:%M") if headers.date else "an unknown date"
        who = str(headers.from_[0]) if headers.from_ else "someone"
        if mode == "forward":
            draft.subject = forward_subject(headers.subject)
            if params.get("as") == "attachment":
                name = f"{headers.subject or 'message'}.eml"
                chunks = store.stream(ref[0], ref[1], "")
                await services.uploads.save(session.user, draft_id, name, "message/rfc822", chunks)
            else:
                header_lines = [f"From: {who}", f"Date: {when}", f"Subject: {headers.subject}",
                                f"To: {', '.join(str(a) for a in headers.to)}"]  # fmt: skip
                draft.body = (
                    "\n\n---------- Forwarded message ----------\n" + "\n".join(header_lines) + "\n\n" + text
                )
                await carry_attachments(store, services.uploads, session.user, draft_id, *ref)
        else:
            targets = headers.reply_to or headers.from_
            draft.to = ", ".join(str(a) for a in targets)
            identity = pick_for_reply(identities, [a.email for a in (*headers.to, *headers.cc)])
            draft.sender = identity.from_header
            if mode == "reply_all":
                mine = {i.email.lower() for i in identities} | {session.user.lower()}
                others = [a for a in (*headers.to, *headers.cc) if a.email.lower() not in mine]
                draft.cc = ", ".join(str(a) for a in others if str(a) not in draft.to)
            draft.subject = reply_subject(headers.subject)
            draft.body = quote(text, f"On {when}, {who} wrote:")
            draft.in_reply_to = headers.message_id or ""
            references = [v for k, v in headers.all if k.lower() == "references"]
            draft.references = references[0] if references else ""
        reply_ref = f"{ref[0]}/{ref[1]}"
        reply_kind = "forward" if mode == "forward" else "reply"
        break
    if identity.signature_text or identity.signature_html:
        # The signature goes above any quoted text, after the "-- " separator (RFC 3676 4.3).
        signature_text = identity.signature_text or html_to_text(identity.signature_html).strip()
        quoted = draft.body
        draft.body = "\n\n-- \n" + signature_text + quoted
        if html_mode:
            signature_html = identity.signature_html or text_to_editor_html(identity.signature_text)
            draft.html = "<div><br></div><div>-- </div>" + signature_html + text_to_editor_html(quoted)
    return compose_page(
        request,
        services,
        session,
        draft,
        draft_id=draft_id,
        reply_ref=reply_ref,
        reply_kind=reply_kind,
        html_mode=html_mode,
        identities=identities,
        identity=identity,
    )


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

    def header(name: str) -> str:
        return str(message.get(name) or message.get(f"X-Webmail-Draft-{name}") or "")

    draft_id = "" if fresh else header("X-Webmail-Draft")
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", draft_id):
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
    return compose_page(
        request,
        services,
        session,
        draft,
        draft_id=draft_id,
        reply_ref="" if fresh else header("X-Webmail-Reply-Ref"),
        reply_kind="" if fresh else header("X-Webmail-Reply-Kind"),
        html_mode=bool(draft.html),
        identities=identities,
        identity=identity,
    )


def compose_page(
    request: Request,
    services: ServicesDep,
    session: Session,
    draft: Draft,
    *,
    draft_id: str,
    reply_ref: str = "",
    reply_kind: str = "",
    error: str | None = None,
    status_code: int = 200,
    html_mode: bool = False,
    identities: list[SenderIdentity] | None = None,
    identity: SenderIdentity | None = None,
    ask_attachment: bool = False,
) -> Response:
    context = {
        "reply_kind": reply_kind,
        "session": session,
        "draft": draft,
        "draft_id": draft_id,
        "reply_ref": reply_ref,
        "error": error,
        "folder_url": folder_url,
        "html_mode": html_mode,
        "identities": identities or [],
        "identity": identity,
        "attachments": services.uploads.stored(session.user, draft_id),
        "limit_mb": services.settings.max_attachment_mb,
        "ask_attachment": ask_attachment,
        # Ours: sanitised on the way in, or made from escaped text.
        "editor_html": draft.html or text_to_editor_html(draft.body),
    }
    return render(request, "pages/compose.html", context, status_code=status_code)


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
        if declared > uploads.limit_bytes - uploads.used(session.user, draft_id):
            raise ComposeError(
                f"Attachments may be {services.settings.max_attachment_mb} MB in all; “{name}” is too large."
            )
        await uploads.save(session.user, draft_id, name, content_type, request.stream())
    except ComposeError as exc:
        return attachments_partial(request, services, session, draft_id, exc.user_message, 413)
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


async def draft_of(
    request: Request, services: ServicesDep, session: Session, form: FormData
) -> tuple[Draft, dict[str, Any]]:
    def field(name: str) -> str:
        value = form.get(name, "")
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
    draft_id = field("draft_id") or secrets.token_urlsafe(12)
    extras = {
        "draft_id": draft_id,
        "reply_ref": field("reply_ref"),
        "reply_kind": field("reply_kind"),
        "html_mode": html_mode,
        "identities": identities,
        "identity": identity,
        "attachment_ok": field("attachment_ok") == "1",
    }
    return draft, extras


@router.post("/compose/draft")
async def save_draft(
    request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep
) -> Response:
    """Autosave (every 30 s while typing, and when the page is left): the Drafts folder's copy."""
    async with request.form() as form:
        draft, extras = await draft_of(request, services, session, form)
    folder = await drafts_folder(store)
    if folder is None:
        return Response(
            "This mailbox has no Drafts folder; the text is kept in this browser only.", status_code=409
        )
    draft.attachments = services.uploads.attachments(session.user, extras["draft_id"])
    await store.save_draft(
        folder,
        build_draft(draft, extras["draft_id"], extras["reply_ref"], extras["reply_kind"]),
        extras["draft_id"],
    )
    return Response("Draft saved", media_type="text/plain")


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
async def send(request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep) -> Response:
    async with request.form() as form:
        draft, extras = await draft_of(request, services, session, form)
        draft_id = extras["draft_id"]
        form_fields = {
            key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"
        }
        try:
            await form_attachments(form, services.uploads, session.user, draft_id)
        except WebmailError as exc:
            return failed(request, services, session, draft, extras, exc.user_message, exc.status_code)
    uploads = services.uploads
    stored = uploads.stored(session.user, draft_id)
    own_text = "\n".join(line for line in draft.body.split("\n") if not line.startswith(">"))
    if not stored and not extras["attachment_ok"] and MENTIONS_ATTACHMENT.search(own_text):
        words = "Your message mentions an attachment, but nothing is attached."
        return failed(request, services, session, draft, extras, words, 422, ask_attachment=True)
    try:
        draft.attachments = uploads.attachments(session.user, draft_id)
        message, recipients = build_message(draft)
        sent_copy = copy_for_sent(message, draft)
        send_at = await send_time(request, services, session, form_fields)
        if send_at is not None:
            outbox_id = await services.outbox.queue(
                session.user,
                session.password,
                draft_id=draft_id,
                message=message,
                sent_copy=sent_copy,
                recipients=recipients,
                form={**form_fields, "draft_id": draft_id},
                reply_ref=extras["reply_ref"],
                reply_kind=extras["reply_kind"],
                send_at=send_at,
            )
            return queued_response(request, services, outbox_id, send_at, bool(form_fields.get("send_at")))
        refused = await send_message(services.settings, session.user, session.password, message, recipients)
    except WebmailError as exc:
        # Nothing the user wrote is lost: the form comes back filled in, with the reason, and a
        # copy goes to Drafts in case the browser closes.
        words = exc.user_message
        folder = await drafts_folder(store)
        if folder is not None and not isinstance(exc, ComposeError):
            try:
                raw = build_draft(draft, draft_id, extras["reply_ref"], extras["reply_kind"])
                await store.save_draft(folder, raw, draft_id)
                words += " The message was saved in Drafts."
            except WebmailError:
                pass
        return failed(request, services, session, draft, extras, words, exc.status_code)
    folders = await store.list_folders()
    sent = find_special(folders, "\\Sent")
    if sent is not None:
        await store.append(sent.name, sent_copy, ["\\Seen"])
    ref = split_ref(extras["reply_ref"])
    if ref is not None:
        keyword = "$Forwarded" if extras["reply_kind"] == "forward" else "\\Answered"
        try:
            await store.set_flag(ref[0], [ref[1]], keyword, True)
        except WebmailError:
            pass  # the original was moved meanwhile; the reply was sent all the same
    folder = await drafts_folder(store, folders)
    if folder is not None:
        await store.discard_drafts(folder, draft_id)
    await services.contacts.collect(session.user, recipients_of(draft))
    uploads.discard(session.user, draft_id)
    done = (
        "Message sent."
        if sent is not None
        else "Message sent (this mailbox has no Sent folder to keep a copy in)."
    )
    if refused:
        done += f" The mail server refused these recipients, so they did not get it: {', '.join(refused)}."
    response = RedirectResponse(
        url(request, "/mail/INBOX") + "?" + urlencode({"done": done}), status_code=303
    )
    response.headers["X-Draft-Sent"] = draft_id
    return response


def copy_for_sent(message: EmailMessage, draft: Draft) -> bytes:
    """The Sent folder's copy: the message as sent, plus the Bcc line only the sender sees."""
    if not draft.bcc.strip():
        return bytes(message)
    copy: EmailMessage = message_from_bytes(bytes(message), policy=message.policy)
    copy["Bcc"] = parse_recipients(draft.bcc)
    return bytes(copy)


async def send_time(
    request: Request, services: ServicesDep, session: Session, form: dict[str, str]
) -> datetime | None:
    """When the worker should send it: "Send later" at the chosen time, or after the undo window;
    None to send now, in this request."""
    preferences = await services.preferences.get(session.user)
    if form.get("send_later") == "1":
        chosen = form.get("send_at", "")
        try:
            local = datetime.fromisoformat(chosen)
        except ValueError:
            raise ComposeError("Choose the date and time to send it at.") from None
        when = local if local.tzinfo else local.replace(tzinfo=user_zone(request, preferences))
        if when < datetime.now(UTC) - timedelta(minutes=1):
            raise ComposeError("That time has passed; choose a time in the future.")
        return when.astimezone(UTC)
    delay = preferences.undo_send_seconds
    if delay is None:
        delay = services.settings.undo_send_seconds
    return datetime.now(UTC) + timedelta(seconds=delay) if delay > 0 else None


def queued_response(
    request: Request, services: ServicesDep, outbox_id: int, send_at: datetime, later: bool
) -> Response:
    if later:
        words = f"Scheduled for {send_at:%Y-%m-%d %H:%M} UTC. It goes even if you close the browser."
        params = {"done": words}
    else:
        seconds = max(1, round((send_at - datetime.now(UTC)).total_seconds()))
        params = {"done": f"Sending in {seconds} seconds.", "outbox": str(outbox_id), "seconds": str(seconds)}
    return RedirectResponse(url(request, "/mail/INBOX") + "?" + urlencode(params), status_code=303)


@router.post("/compose/outbox/{outbox_id:int}/undo")
async def undo_send(request: Request, services: ServicesDep, session: SessionDep, outbox_id: int) -> Response:
    """Stop a waiting message and bring it back to the editor, attachments and all."""
    form = await services.outbox.cancel(session.user, outbox_id)
    identities = await services.identities.for_user(session.user)
    identity = next((i for i in identities if str(i.id) == form.get("identity")), None) or default_of(
        identities
    )
    html_mode = form.get("format") == "html"
    draft = Draft(
        sender=identity.from_header,
        to=form.get("to", ""),
        cc=form.get("cc", ""),
        bcc=form.get("bcc", ""),
        subject=form.get("subject", ""),
        body=form.get("body", ""),
        in_reply_to=form.get("in_reply_to", ""),
        references=form.get("references", ""),
        html=clean_editor_html(form.get("body_html", "")) if html_mode else "",
    )
    return compose_page(
        request,
        services,
        session,
        draft,
        draft_id=form.get("draft_id", "") or secrets.token_urlsafe(12),
        reply_ref=form.get("reply_ref", ""),
        reply_kind=form.get("reply_kind", ""),
        error="Not sent. The message is back here for you to change.",
        html_mode=html_mode,
        identities=identities,
        identity=identity,
    )


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


def recipients_of(draft: Draft) -> list[tuple[str, str]]:
    """(name, address) of To, Cc and Bcc, for the collected addresses."""
    return [
        (address.display_name, address.addr_spec)
        for field in (draft.to, draft.cc, draft.bcc)
        for address in parse_recipients(field)
    ]


def failed(
    request: Request,
    services: ServicesDep,
    session: Session,
    draft: Draft,
    extras: dict[str, Any],
    words: str,
    status_code: int,
    *,
    ask_attachment: bool = False,
) -> Response:
    return compose_page(
        request,
        services,
        session,
        draft,
        draft_id=extras["draft_id"],
        reply_ref=extras["reply_ref"],
        reply_kind=extras["reply_kind"],
        error=words,
        status_code=status_code,
        html_mode=extras["html_mode"],
        identities=extras["identities"],
        identity=extras["identity"],
        ask_attachment=ask_attachment,
    )
