"""Sending a message: the one workflow behind Send in the browser and behind the outbox's worker.

``prepare`` builds the message from what was written; ``send`` submits it and does everything
around it: the Sent copy (with the Bcc line only the sender sees), ``\\Answered`` or
``$Forwarded`` on the original, the draft's versions in Drafts and its uploaded files removed,
the recipients collected for suggestions. A message the server does not take is kept in Drafts.

Every IMAP step goes through a ``MailStore``: a request's pooled one, or the worker's
``background_store``. Library errors arrive there as typed ``IMAPError``s, and a dropped
connection is retried once on a fresh one; what still fails after the message went is told in
the outcome's words, never raised: the message was sent, and must not look unsent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import EmailMessage
from typing import Literal

from webmail.account.contacts import ContactService
from webmail.config import Settings
from webmail.errors import WebmailError
from webmail.imap.errors import FolderMissingError, MailboxBusyError, UnavailableError
from webmail.imap.store import MailStore
from webmail.imap.types import Folder, find_special, split_ref
from webmail.limits import DEFAULT_LIMITS, Limits
from webmail.mail.compose import ComposeError, Draft, addresses_of, build_draft, build_message, copy_for_sent
from webmail.smtp.submit import send_message
from webmail.smtp.uploads import UploadStore

logger = logging.getLogger(__name__)

SentCopy = Literal["filed", "no folder", "failed"]


@dataclass(frozen=True)
class Outgoing:
    """A built message and what belongs to it, to send now or to keep in the outbox."""

    message: EmailMessage
    sent_copy: bytes  # the message plus its Bcc line
    recipients: tuple[str, ...]  # the envelope: To, Cc, Bcc (and the sender for Bcc-self)
    draft_id: str
    reply_ref: str = ""  # "<folder>/<uid>" of the message this answers or forwards
    reply_kind: str = ""  # "reply" or "forward"
    collected: tuple[tuple[str, str], ...] = ()  # (name, address) to remember for suggestions
    draft: Draft | None = None  # what was written; the outbox keeps only the built message

    def draft_copy(self) -> bytes:
        """The Drafts folder's version, for when sending fails: the draft as written, or else
        the Sent copy marked as this draft."""
        if self.draft is not None:
            return build_draft(self.draft, self.draft_id, self.reply_ref, self.reply_kind)
        return f"X-Webmail-Draft: {self.draft_id}\r\n".encode() + self.sent_copy


@dataclass(frozen=True)
class SendOutcome:
    """What became of one message and its copies."""

    error: WebmailError | None = None  # not sent: why
    kept_in_drafts: bool = False  # not sent, and it waits in Drafts
    refused: tuple[str, ...] = ()  # sent, but not to these: "address (the server's reason)"
    sent_copy: SentCopy = "filed"
    sent_copy_problem: str = ""  # why the copy is not in Sent, in words

    @property
    def sent(self) -> bool:
        return self.error is None

    @property
    def note(self) -> str:
        """What to know beyond "sent": about the Sent copy and refused recipients. For a message
        not sent: why, and whether it is in Drafts."""
        if self.error is not None:
            kept = " The message was saved in Drafts." if self.kept_in_drafts else ""
            return self.error.user_message + kept
        sentences = []
        if self.sent_copy == "no folder":
            sentences.append("This mailbox has no Sent folder to keep a copy in.")
        elif self.sent_copy == "failed":
            sentences.append(f"The copy could not be saved in Sent: {self.sent_copy_problem}")
        if self.refused:
            sentences.append(
                f"The mail server refused these recipients, so they did not get it: {', '.join(self.refused)}."
            )
        return " ".join(sentences)

    @property
    def words(self) -> str:
        """The whole story in a few sentences, for a toast or the form's error line."""
        return f"Message sent. {self.note}".strip() if self.sent else self.note


def prepare(
    draft: Draft, *, draft_id: str, reply_ref: str = "", reply_kind: str = "", limits: Limits = DEFAULT_LIMITS
) -> Outgoing:
    """Build the message from the draft, attachments included; raises ComposeError naming what
    to fix (no recipient, a bad address, a line break in the subject, too many recipients)."""
    message, recipients = build_message(draft, limits=limits)
    return Outgoing(
        message=message,
        sent_copy=copy_for_sent(message, draft.bcc),
        recipients=tuple(recipients),
        draft_id=draft_id,
        reply_ref=reply_ref,
        reply_kind=reply_kind,
        collected=tuple(addresses_of(draft.to, draft.cc, draft.bcc)),
        draft=draft,
    )


def send_time(
    *, later: bool, at: str, zone: tzinfo, undo_seconds: int, now: datetime | None = None
) -> datetime | None:
    """When the outbox should send it: ``later`` at the chosen local time ``at``, or after the
    undo window; None to send now. Raises ComposeError for a time missing or past."""
    now = now or datetime.now(UTC)
    if later:
        try:
            local = datetime.fromisoformat(at)
        except ValueError:
            raise ComposeError("Choose the date and time to send it at.") from None
        when = local if local.tzinfo else local.replace(tzinfo=zone)
        if when < now - timedelta(minutes=1):
            raise ComposeError("That time has passed; choose a time in the future.")
        return when.astimezone(UTC)
    return now + timedelta(seconds=undo_seconds) if undo_seconds > 0 else None


async def send(
    outgoing: Outgoing,
    store: MailStore,
    *,
    settings: Settings,
    uploads: UploadStore,
    contacts: ContactService,
    on_submitted: Callable[[], Awaitable[None]] | None = None,
) -> SendOutcome:
    """Send ``outgoing`` as the store's user, then file it (see the module docstring).

    ``on_submitted`` runs as soon as the server took the message, before any mailbox work (the
    outbox records "sent" there, so a crash later never makes it look unsent). Server failures
    are in the outcome, not raised.
    """
    login, password = store.credentials.username, store.credentials.password
    try:
        refused = await send_message(settings, login, password, outgoing.message, list(outgoing.recipients))
    except WebmailError as exc:
        return SendOutcome(error=exc, kept_in_drafts=await _keep_in_drafts(store, outgoing))
    if on_submitted is not None:
        await on_submitted()
    folders: list[Folder] | None
    sent_copy: SentCopy
    try:
        folders = await store.list_folders()
    except WebmailError as exc:
        folders, sent_copy, problem = None, "failed", why_not_filed(exc)
    else:
        sent_copy, problem = await _file_sent_copy(store, folders, outgoing.sent_copy)
    await _mark_original(store, outgoing)
    if folders is not None:
        await _discard_draft(store, folders, outgoing.draft_id)
    uploads.discard(login, outgoing.draft_id)
    await contacts.collect(login, outgoing.collected)
    return SendOutcome(refused=tuple(refused), sent_copy=sent_copy, sent_copy_problem=problem)


async def _file_sent_copy(store: MailStore, folders: list[Folder], raw: bytes) -> tuple[SentCopy, str]:
    """The copy into Sent, which is created if the account has none."""
    try:
        sent = await store.special_folder("\\Sent", folders)
        await store.append(sent.name, raw, ["\\Seen"])
    except FolderMissingError:
        return "no folder", ""
    except WebmailError as exc:
        logger.warning("sent, but the Sent copy could not be filed: %r", exc)
        return "failed", why_not_filed(exc)
    return "filed", ""


async def _mark_original(store: MailStore, outgoing: Outgoing) -> None:
    original = split_ref(outgoing.reply_ref)
    if original is None:
        return
    keyword = "$Forwarded" if outgoing.reply_kind == "forward" else "\\Answered"
    try:
        await store.add_keyword(original[0], [original[1]], keyword)
    except WebmailError:
        pass  # the original was moved or deleted meanwhile; the reply went all the same


async def _discard_draft(store: MailStore, folders: list[Folder], draft_id: str) -> None:
    drafts = find_special(folders, "\\Drafts")
    if drafts is None:
        return
    try:
        await store.discard_drafts(drafts.name, draft_id)
    except WebmailError as exc:
        logger.warning("sent, but its draft could not be removed from Drafts: %r", exc)


async def _keep_in_drafts(store: MailStore, outgoing: Outgoing) -> bool:
    """After a failed send: the message into Drafts, so nothing written is lost. True if it is."""
    try:
        drafts = await store.special_folder("\\Drafts")
        await store.save_draft(drafts.name, outgoing.draft_copy(), outgoing.draft_id)
    except WebmailError:
        return False
    return True


def why_not_filed(exc: WebmailError) -> str:
    """Why a mailbox step failed after the message went ("try again" would mean: send again)."""
    if isinstance(exc, UnavailableError):
        return "the connection to the mail server was lost."
    if isinstance(exc, MailboxBusyError):
        return "your mailbox has too many connections open."
    return exc.user_message
