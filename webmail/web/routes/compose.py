"""Writing and sending: GET /compose (new, reply, reply all, forward), POST /compose/send."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from webmail.auth.identities import SenderIdentity, default_of, pick_for_reply
from webmail.errors import WebmailError
from webmail.imap.store import MailStore
from webmail.mail.compose import (
    Attachment,
    ComposeError,
    Draft,
    build_message,
    forward_subject,
    quote,
    reply_subject,
)
from webmail.mail.editor import clean_editor_html, html_to_text, text_to_editor_html
from webmail.mail.render import decode_part, parse_headers
from webmail.smtp.submit import send_message
from webmail.web.csrf import csrf_protect
from webmail.web.deps import MailStoreDep, PreferencesDep, ServicesDep, SessionDep
from webmail.web.listing import folder_url
from webmail.web.templating import render, url

router = APIRouter(dependencies=[Depends(csrf_protect)])


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
    reply_ref = ""
    for mode in ("reply", "reply_all", "forward"):
        ref = split_ref(request.query_params.get(mode, ""))
        if ref is None:
            continue
        headers, text = await original_text(store, *ref)
        when = headers.date.strftime("%a, %d %b %Y %H:%M") if headers.date else "an unknown date"
        who = str(headers.from_[0]) if headers.from_ else "someone"
        if mode == "forward":
            draft.subject = forward_subject(headers.subject)
            header_lines = [f"From: {who}", f"Date: {when}", f"Subject: {headers.subject}",
                            f"To: {', '.join(str(a) for a in headers.to)}"]  # fmt: skip
            draft.body = (
                "\n\n---------- Forwarded message ----------\n" + "\n".join(header_lines) + "\n\n" + text
            )
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
        break
    html_mode = preferences.compose_html
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
        session,
        draft,
        reply_ref=reply_ref,
        html_mode=html_mode,
        identities=identities,
        identity=identity,
    )


def compose_page(
    request: Request,
    session: Any,
    draft: Draft,
    *,
    reply_ref: str = "",
    error: str | None = None,
    status_code: int = 200,
    html_mode: bool = False,
    identities: list[SenderIdentity] | None = None,
    identity: SenderIdentity | None = None,
) -> Response:
    context = {
        "session": session,
        "draft": draft,
        "reply_ref": reply_ref,
        "error": error,
        "folder_url": folder_url,
        "html_mode": html_mode,
        "identities": identities or [],
        "identity": identity,
        # Ours: sanitised on the way in, or made from escaped text.
        "editor_html": draft.html or text_to_editor_html(draft.body),
    }
    return render(request, "pages/compose.html", context, status_code=status_code)


async def attachments_of(form: FormData, limit_bytes: int) -> list[Attachment]:
    attachments: list[Attachment] = []
    total = 0
    for item in form.getlist("attachments"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue
        data = await item.read()
        total += len(data)
        if total > limit_bytes:
            raise ComposeError(
                f"Attachments may be {limit_bytes // (1024 * 1024)} MB in all; “{item.filename}” is too much."
            )
        attachments.append(Attachment(item.filename, item.content_type or "application/octet-stream", data))
    return attachments


@router.post("/compose/send")
async def send(request: Request, services: ServicesDep, session: SessionDep, store: MailStoreDep) -> Response:
    async with request.form() as form:
        return await send_form(request, services, session, store, form)


async def send_form(
    request: Request, services: ServicesDep, session: Any, store: MailStore, form: FormData
) -> Response:
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
    reply_ref = field("reply_ref")
    html_mode = field("format") == "html"
    if html_mode:
        draft.html = clean_editor_html(field("body_html"))
        draft.body = html_to_text(draft.html)
    try:
        draft.attachments = await attachments_of(form, services.settings.max_attachment_mb * 1024 * 1024)
        message, recipients = build_message(draft)
        await send_message(services.settings, session.user, session.password, message, recipients)
    except WebmailError as exc:
        # Nothing the user wrote is lost: the form comes back filled in, with the reason.
        return compose_page(
            request,
            session,
            draft,
            reply_ref=reply_ref,
            error=exc.user_message,
            status_code=exc.status_code,
            html_mode=html_mode,
            identities=identities,
            identity=identity,
        )
    folders = await store.list_folders()
    sent = next((f for f in folders if f.special_use == "\\Sent" and f.depth == 0), None)
    if sent is not None:
        await store.append(sent.name, bytes(message), ["\\Seen"])
    ref = split_ref(reply_ref)
    if ref is not None:
        try:
            await store.set_flag(ref[0], [ref[1]], "\\Answered", True)
        except WebmailError:
            pass  # the original was moved meanwhile; the reply was sent all the same
    done = (
        "Message sent."
        if sent is not None
        else "Message sent (this mailbox has no Sent folder to keep a copy in)."
    )
    return RedirectResponse(url(request, "/mail/INBOX") + "?" + urlencode({"done": done}), status_code=303)
