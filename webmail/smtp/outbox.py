"""Messages that wait before they go: the undo window after Send, and "Send later".

The web app puts the finished message in the ``outbox`` table with the user's password sealed
with the server key (kept only while it waits); ``webmail worker`` sends it when its time comes,
so it goes even if the browser is closed. A message is marked ``sending`` in its own transaction
before SMTP starts and is never picked up again after that: a crash mid-send leaves it for the
user to check rather than risking a second copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import anyio.to_thread
from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from webmail.account.contacts import ContactService
from webmail.auth.crypto import DecryptionError, seal, unseal
from webmail.config import Settings
from webmail.db.models import OutboxMessage, User
from webmail.db.repos import UserRepository
from webmail.errors import WebmailError
from webmail.imap import drafts, organize
from webmail.imap.background import background_connection
from webmail.imap.folders import list_folders
from webmail.imap.types import Credentials, find_special
from webmail.imap.watch import events_channel
from webmail.mail.compose import parse_recipients
from webmail.smtp.submit import send_message
from webmail.smtp.uploads import UploadStore

logger = logging.getLogger(__name__)
PURPOSE = "outbox"
TICK_SECONDS = 1.0


class OutboxNotFoundError(WebmailError):
    status_code = 404
    user_message = "This message is no longer waiting to be sent."


@dataclass(frozen=True)
class OutboxView:
    id: int
    send_at: datetime
    status: str
    subject: str
    recipients: tuple[str, ...]
    error: str | None


def _bound(row: OutboxMessage, login: str) -> str:
    return f"outbox:{row.id}:{login.lower()}"


def _view(row: OutboxMessage) -> OutboxView:
    return OutboxView(row.id, row.send_at, row.status, row.subject, tuple(row.recipients or ()), row.error)


class Outbox:
    """What the web app asks of the outbox."""

    def __init__(self, settings: Settings, db: sessionmaker[Session]) -> None:
        self.settings = settings
        self.db = db

    async def queue(
        self,
        login: str,
        password: str,
        *,
        draft_id: str,
        message: EmailMessage,
        sent_copy: bytes,
        recipients: list[str],
        form: dict[str, Any],
        reply_ref: str,
        reply_kind: str,
        send_at: datetime,
    ) -> int:
        def queue() -> int:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.settings.imap_host)
                row = OutboxMessage(
                    user_id=user.id,
                    draft_id=draft_id,
                    send_at=send_at,
                    status="waiting",
                    message=bytes(message),
                    sent_copy=sent_copy,
                    recipients=recipients,
                    form=form,
                    subject=str(message.get("Subject", ""))[:500],
                    reply_ref=reply_ref,
                    reply_kind=reply_kind,
                )
                session.add(row)
                session.flush()
                row.credential = seal(
                    password,
                    server_secret=self.settings.secret_key.get_secret_value(),
                    purpose=PURPOSE,
                    bound_to=_bound(row, login),
                )
                return row.id

        return await anyio.to_thread.run_sync(queue)

    async def cancel(self, login: str, outbox_id: int) -> dict[str, Any]:
        """Stop a waiting message; its form comes back for the editor. Too late: OutboxNotFoundError."""

        def cancel() -> dict[str, Any]:
            with self.db.begin() as session:
                user = UserRepository(session).get(login, self.settings.imap_host)
                if user is None:
                    raise OutboxNotFoundError()
                changed = session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == outbox_id,
                        OutboxMessage.user_id == user.id,
                        OutboxMessage.status.in_(("waiting", "failed")),
                    )
                    .values(status="cancelled", credential=None, finished_at=datetime.now(UTC))
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    raise OutboxNotFoundError()
                row = session.get(OutboxMessage, outbox_id)
                assert row is not None
                return dict(row.form or {})

        return await anyio.to_thread.run_sync(cancel)

    async def entries(self, login: str) -> list[OutboxView]:
        def load() -> list[OutboxView]:
            with self.db() as session:
                user = UserRepository(session).get(login, self.settings.imap_host)
                if user is None:
                    return []
                rows = session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.user_id == user.id, OutboxMessage.status != "cancelled")
                    .order_by(OutboxMessage.send_at.desc())
                    .limit(50)
                )
                return [_view(row) for row in rows]

        return await anyio.to_thread.run_sync(load)


# ---------------------------------------------------------------------------- the worker side


def due(db: sessionmaker[Session], now: datetime | None = None) -> list[int]:
    with db() as session:
        query = select(OutboxMessage.id).where(
            OutboxMessage.status == "waiting", OutboxMessage.send_at <= (now or datetime.now(UTC))
        )
        return list(session.scalars(query))


def deliver(settings: Settings, db: sessionmaker[Session], redis: Redis, outbox_id: int) -> str:
    """Send one due message; returns its new status (or "" if it was not ours to send)."""
    with db.begin() as session:
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "waiting")
            .values(status="sending")
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return ""  # cancelled (Undo), or another worker has it
    with db() as session:
        row = session.get(OutboxMessage, outbox_id)
        assert row is not None
        user = session.get(User, row.user_id)
        assert user is not None
        session.expunge_all()
    login = user.login
    try:
        password = unseal(
            row.credential or b"",
            server_secret=settings.secret_key.get_secret_value(),
            purpose=PURPOSE,
            bound_to=_bound(row, login),
        )
    except DecryptionError:
        return _finish(db, redis, settings, row, login, "failed", "The server key changed; send it again.")
    message = message_from_bytes(row.message, policy=policy.SMTP)
    try:
        refused = asyncio.run(send_message(settings, login, password, message, list(row.recipients or [])))
    except WebmailError as exc:
        _after_failure(settings, redis, row, login, password)
        return _finish(
            db, redis, settings, row, login, "failed", exc.user_message + " The message was saved in Drafts."
        )
    note = f"Refused by the mail server, so not delivered to: {', '.join(refused)}." if refused else None
    status = _finish(db, redis, settings, row, login, "sent", note)
    _after_success(settings, db, redis, row, login, password)
    return status


def _finish(
    db: sessionmaker[Session],
    redis: Redis,
    settings: Settings,
    row: OutboxMessage,
    login: str,
    status: str,
    error: str | None,
) -> str:
    with db.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(status=status, error=error, credential=None, finished_at=datetime.now(UTC))
        )
    event = {"type": "outbox", "id": row.id, "status": status, "subject": row.subject, "error": error or ""}
    redis.publish(events_channel(settings.redis_prefix, login), json.dumps(event))
    return status


def _after_success(
    settings: Settings, db: sessionmaker[Session], redis: Redis, row: OutboxMessage, login: str, password: str
) -> None:
    """The Sent copy, the original's flag, the draft and its files; then the collected addresses."""
    try:
        with background_connection(settings, redis, Credentials(login, password)) as (conn, _):
            folders = list_folders(conn.client)
            sent = find_special(folders, "\\Sent")
            if sent is not None:
                organize.append_message(conn, sent.name, row.sent_copy, ["\\Seen"])
            folder, _, uid = row.reply_ref.rpartition("/")
            if folder and uid.isdigit():
                keyword = "$Forwarded" if row.reply_kind == "forward" else "\\Answered"
                conn.sync(folder)
                conn.client.add_flags([int(uid)], [keyword.encode()], silent=True)
            drafts_folder = find_special(folders, "\\Drafts")
            if drafts_folder is not None:
                drafts.discard_drafts(conn, drafts_folder.name, row.draft_id)
    except WebmailError:
        logger.warning("outbox %s: sent, but the Sent copy or flags could not be stored", row.id)
    UploadStore(settings.upload_dir, 0).discard(login, row.draft_id)
    form = row.form or {}
    pairs = []
    for field in ("to", "cc", "bcc"):
        try:
            pairs += [(a.display_name, a.addr_spec) for a in parse_recipients(str(form.get(field, "")))]
        except WebmailError:
            pass
    ContactService(db, settings.imap_host).collect_now(login, pairs)


def _after_failure(settings: Settings, redis: Redis, row: OutboxMessage, login: str, password: str) -> None:
    """Keep the message as a draft, so the user can correct and retry it."""
    try:
        with background_connection(settings, redis, Credentials(login, password)) as (conn, _):
            folders = list_folders(conn.client)
            drafts_folder = find_special(folders, "\\Drafts")
            if drafts_folder is not None:
                raw = f"X-Webmail-Draft: {row.draft_id}\r\n".encode() + row.sent_copy
                drafts.save_draft(conn, drafts_folder.name, raw, row.draft_id)
    except WebmailError:
        logger.warning("outbox %s: failed, and the draft could not be stored either", row.id)


def deliver_due(settings: Settings, db: sessionmaker[Session], redis: Redis) -> int:
    """The worker's tick: send what is due, one after another."""
    sent = 0
    for outbox_id in due(db):
        if deliver(settings, db, redis, outbox_id):
            sent += 1
    return sent
