from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webmail.db.base import Base, UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


IntPK = Annotated[int, mapped_column(Integer, primary_key=True)]
CreatedAt = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow)]
# Rows that belong to a user (or to one of their POP3 accounts) go with it, and are looked up by it.
UserID = Annotated[int, mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)]
POP3AccountID = Annotated[int, mapped_column(ForeignKey("pop3_accounts.id", ondelete="CASCADE"), index=True)]


class User(Base):
    """A person who signed in at least once, keyed by login and IMAP host."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("login", "imap_host"),)

    id: Mapped[IntPK]
    login: Mapped[str] = mapped_column(String(320))
    imap_host: Mapped[str] = mapped_column(String(255))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[CreatedAt]
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The IMAP password sealed with the server key, kept only after the user agreed to it so
    # that background POP3 fetches can store mail while they are signed out.
    imap_credential: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class RemoteContentSender(Base):
    """A sender whose remote images the user chose to always load."""

    __tablename__ = "remote_content_senders"
    __table_args__ = (UniqueConstraint("user_id", "address"),)

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[CreatedAt]


class SavedSearch(Base):
    """A search kept under the folders as a virtual folder."""

    __tablename__ = "saved_searches"

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(1000))
    folder: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[CreatedAt]


class Identity(Base):
    """A From address the user writes as, with its name, Reply-To and signatures."""

    __tablename__ = "identities"

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    bcc_self: Mapped[bool] = mapped_column(Boolean, default=False)
    signature_text: Mapped[str] = mapped_column(String(4000), default="")
    signature_html: Mapped[str] = mapped_column(String(20000), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[CreatedAt]


class Contact(Base):
    """An address book entry: a person or organisation with one or more addresses."""

    __tablename__ = "contacts"

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    name: Mapped[str] = mapped_column(String(200), default="")
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(String(4000), default="")
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)  # group names
    created_at: Mapped[CreatedAt]


class CollectedAddress(Base):
    """Someone the user wrote to, remembered for autocomplete until promoted to a contact."""

    __tablename__ = "collected_addresses"
    __table_args__ = (UniqueConstraint("user_id", "email"),)

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    uses: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxMessage(Base):
    """A message waiting to be sent by the background worker (undo window or "send later")."""

    __tablename__ = "outbox"

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    draft_id: Mapped[str] = mapped_column(String(64))
    send_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(
        String(20), default="waiting"
    )  # waiting sending sent failed cancelled
    message: Mapped[bytes] = mapped_column(LargeBinary)  # as sent (no Bcc header)
    sent_copy: Mapped[bytes] = mapped_column(LargeBinary)  # for the Sent folder (Bcc kept)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # to reopen it in the editor
    subject: Mapped[str] = mapped_column(String(500), default="")
    reply_ref: Mapped[str] = mapped_column(String(1100), default="")
    reply_kind: Mapped[str] = mapped_column(String(20), default="")
    # The user's password sealed with the server key, only while the message waits.
    credential: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[CreatedAt]
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class POP3Account(Base):
    """An external POP3 account whose mail is imported into one of the user's folders."""

    __tablename__ = "pop3_accounts"

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10))
    username: Mapped[str] = mapped_column(String(320))
    password_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    folder: Mapped[str] = mapped_column(String(1000), default="INBOX")
    leave_on_server: Mapped[bool] = mapped_column(Boolean, default=True)
    delete_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    only_new: Mapped[bool] = mapped_column(Boolean, default=True)
    mark_read: Mapped[bool] = mapped_column(Boolean, default=False)
    max_size_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    has_run: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[CreatedAt]
    # Status, shown to the user and used by the scheduler.
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_imported: Mapped[int] = mapped_column(Integer, default=0)
    total_imported: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row; drives the back-off
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class POP3ImportedUID(Base):
    """A message of a POP3 account that was stored in the target folder (its UIDL)."""

    __tablename__ = "pop3_imported_uids"
    __table_args__ = (UniqueConstraint("account_id", "uid"),)

    id: Mapped[IntPK]
    account_id: Mapped[POP3AccountID]
    uid: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class POP3Run(Base):
    """One fetch of a POP3 account: the history shown to the user (the last 20 are kept)."""

    __tablename__ = "pop3_runs"

    id: Mapped[IntPK]
    account_id: Mapped[POP3AccountID]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # ok, more, error
    imported: Mapped[int] = mapped_column(Integer, default=0)
    already_there: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ArchiveRule(Base):
    """Auto-archive: in ``folder``, messages older than ``older_than_days`` (by arrival, INTERNALDATE)
    go to the Archive (``layout`` flat, year or month), to Trash, or are deleted for good; run
    daily by the worker and on "Run now"."""

    __tablename__ = "archive_rules"

    id: Mapped[IntPK]
    user_id: Mapped[UserID]
    folder: Mapped[str] = mapped_column(String(1000))
    older_than_days: Mapped[int] = mapped_column(Integer)
    only_read: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_starred: Mapped[bool] = mapped_column(Boolean, default=True)
    action: Mapped[str] = mapped_column(String(20), default="archive")  # archive trash delete
    layout: Mapped[str] = mapped_column(String(10), default="flat")  # flat year month (for archive)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[CreatedAt]
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    last_outcome: Mapped[str | None] = mapped_column(String(500), nullable=True)  # in words
    last_count: Mapped[int] = mapped_column(Integer, default=0)
    # The last moving run's moves, for Undo: [[target folder, [new UIDs]], ...] (empty once undone).
    last_moves: Mapped[list[Any]] = mapped_column(JSON, default=list)
