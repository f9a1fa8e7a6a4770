"""Messages that wait before they go: the undo window after Send, and "Send later".

The web app puts the finished message in the ``outbox`` table with the user's password sealed
with the server key (kept only while it waits); ``webmail worker`` sends it when its time comes,
through the same workflow as Send in the browser (``sending.py``), so it goes even if the
browser is closed. A message is marked ``sending`` in its own transaction
before SMTP starts and is never picked up again after that: a crash mid-send leaves it for the
user to check rather than risking a second copy.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import anyio.to_thread
from redis import Redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from webmail.account.contacts import ContactService
from webmail.account.preferences import PreferencesService
from webmail.auth.crypto import DecryptionError, seal, unseal
from webmail.config import Settings
from webmail.db.models import OutboxMessage, User
from webmail.db.repos import UserRepository
from webmail.errors import WebmailError
from webmail.events import OutboxResult, publish
from webmail.imap.background import background_store
from webmail.imap.types import Credentials
from webmail.mail.compose import addresses_of
from webmail.redis import Keys
from webmail.smtp import sending
from webmail.smtp.senders import record_sync
from webmail.smtp.submit import envelope_sender
from webmail.smtp.uploads import UploadStore

PURPOSE = "outbox"
TICK_SECONDS = 1.0


class OutboxNotFoundError(WebmailError):
    """Raised when an outbox entry is not the user's, or was sent (or taken back) meanwhile."""

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
        outgoing: sending.Outgoing,
        *,
        form: dict[str, Any],
        send_at: datetime,
    ) -> int:
        """Keep ``outgoing`` until ``send_at``, with the form (for Undo) and the password sealed."""

        def queue() -> int:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.settings.imap_host)
                row = OutboxMessage(
                    user_id=user.id,
                    draft_id=outgoing.draft_id,
                    send_at=send_at,
                    status="waiting",
                    message=bytes(outgoing.message),
                    sent_copy=outgoing.sent_copy,
                    recipients=list(outgoing.recipients),
                    form=form,
                    subject=str(outgoing.message.get("Subject", ""))[:500],
                    reply_ref=outgoing.reply_ref,
                    reply_kind=outgoing.reply_kind,
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


def counts_by_status(db: sessionmaker[Session]) -> dict[str, int]:
    """How many outbox messages are waiting, sending, sent, failed or cancelled (for /metrics)."""
    with db() as session:
        rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {str(status): int(count) for status, count in rows}


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
    outcome = asyncio.run(_send(settings, db, row, Credentials(login, password)))
    sender = envelope_sender(message_from_bytes(row.message, policy=policy.SMTP))
    record_sync(redis, Keys(settings.redis_prefix), login, sender, outcome.error)
    status = "sent" if outcome.sent else "failed"
    return _finish(db, redis, settings, row, login, status, outcome.note or None)


async def _send(
    settings: Settings, db: sessionmaker[Session], row: OutboxMessage, credentials: Credentials
) -> sending.SendOutcome:
    """The same workflow as Send in the browser, over a MailStore of the worker's own."""
    form = row.form or {}
    outgoing = sending.Outgoing(
        message=message_from_bytes(row.message, policy=policy.SMTP),
        sent_copy=row.sent_copy,
        recipients=tuple(row.recipients or ()),
        draft_id=row.draft_id,
        reply_ref=row.reply_ref,
        reply_kind=row.reply_kind,
        collected=tuple(addresses_of(*(str(form.get(field, "")) for field in ("to", "cc", "bcc")))),
    )

    async def submitted() -> None:
        await anyio.to_thread.run_sync(_record, db, row.id, "sent", None)

    preferences = await PreferencesService(db, settings.imap_host).get(credentials.username)
    async with background_store(settings, credentials, preferences.special_folders) as store:
        return await sending.send(
            outgoing,
            store,
            settings=settings,
            uploads=UploadStore.from_settings(settings),
            contacts=ContactService(db, settings.imap_host),
            on_submitted=submitted,
        )


def _record(db: sessionmaker[Session], outbox_id: int, status: str, note: str | None) -> None:
    with db.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(status=status, error=note, credential=None, finished_at=datetime.now(UTC))
        )


def _announce(
    redis: Redis, settings: Settings, login: str, row: OutboxMessage, status: str, note: str | None
) -> None:
    """The live "outbox" event to the user's open pages: how the message went, and the note."""
    event = OutboxResult(row.id, status, row.subject, note or "")
    publish(redis, Keys(settings.redis_prefix), login, event)


def _finish(
    db: sessionmaker[Session],
    redis: Redis,
    settings: Settings,
    row: OutboxMessage,
    login: str,
    status: str,
    note: str | None,
) -> str:
    _record(db, row.id, status, note)
    _announce(redis, settings, login, row, status, note)
    return status


def deliver_due(settings: Settings, db: sessionmaker[Session], redis: Redis) -> int:
    """The worker's tick: send what is due, one after another."""
    sent = 0
    for outbox_id in due(db):
        if deliver(settings, db, redis, outbox_id):
            sent += 1
    return sent
