"""Queries only; the caller's unit of work commits."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from webmail.db.models import (
    ArchiveRule,
    CollectedAddress,
    Contact,
    Identity,
    POP3Account,
    POP3ImportedUID,
    POP3Run,
    RemoteContentSender,
    SavedSearch,
    User,
    utcnow,
)

OwnedRow = TypeVar("OwnedRow", ArchiveRule, CollectedAddress, Contact, Identity, POP3Account, SavedSearch)


def _owned(session: Session, model: type[OwnedRow], user_id: int, row_id: int) -> OwnedRow | None:
    """The row ``row_id`` of ``model`` if it is this user's; None for another user's, as for none."""
    row = session.get(model, row_id)
    return row if row is not None and row.user_id == user_id else None


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, login: str, imap_host: str) -> User | None:
        query = select(User).where(User.login == login, User.imap_host == imap_host)
        return self.session.scalars(query).one_or_none()

    def get_or_create(self, login: str, imap_host: str) -> User:
        user = self.get(login, imap_host)
        if user is None:
            user = User(login=login, imap_host=imap_host, preferences={})
            self.session.add(user)
            self.session.flush()
        return user

    def record_login(self, login: str, imap_host: str) -> User:
        user = self.get_or_create(login, imap_host)
        user.last_login_at = utcnow()
        self.session.flush()
        return user


class ContactRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_user(self, user_id: int) -> list[Contact]:
        return list(self.session.scalars(select(Contact).where(Contact.user_id == user_id)))

    def count(self, user_id: int) -> int:
        query = select(func.count()).select_from(Contact).where(Contact.user_id == user_id)
        return int(self.session.scalar(query) or 0)

    def get(self, user_id: int, contact_id: int) -> Contact | None:
        return _owned(self.session, Contact, user_id, contact_id)

    def addresses(self, user_id: int) -> set[str]:
        """Every address of the user's contacts, lower-cased."""
        query = select(Contact.emails).where(Contact.user_id == user_id)
        return {address.lower() for emails in self.session.scalars(query) for address in emails or ()}

    def save(self, contact: Contact) -> None:
        """Write a new or changed contact (it gets its id)."""
        self.session.add(contact)
        self.session.flush()

    def delete(self, user_id: int, contact_id: int) -> bool:
        """False if there is no such contact of this user."""
        contact = self.get(user_id, contact_id)
        if contact is None:
            return False
        self.session.delete(contact)
        return True


class CollectedAddressRepository:
    """Recipients the user wrote to who are not contacts (yet)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def for_user(self, user_id: int) -> list[CollectedAddress]:
        query = (
            select(CollectedAddress)
            .where(CollectedAddress.user_id == user_id)
            .order_by(CollectedAddress.uses.desc(), CollectedAddress.last_used_at.desc())
        )
        return list(self.session.scalars(query))

    def record_use(self, user_id: int, address: str, name: str) -> None:
        """One more message to this (lower-cased) address; remembered on its first use."""
        query = select(CollectedAddress).where(
            CollectedAddress.user_id == user_id, CollectedAddress.email == address
        )
        row = self.session.scalars(query).one_or_none()
        if row is None:
            row = CollectedAddress(user_id=user_id, email=address, name=name, uses=0)
            self.session.add(row)
        row.uses = (row.uses or 0) + 1
        row.last_used_at = utcnow()
        row.name = name or row.name
        self.session.flush()

    def forget_addresses(self, user_id: int, addresses: list[str]) -> None:
        lowered = [address.lower() for address in addresses]
        if not lowered:
            return
        query = select(CollectedAddress).where(
            CollectedAddress.user_id == user_id, CollectedAddress.email.in_(lowered)
        )
        for row in self.session.scalars(query):
            self.session.delete(row)

    def delete(self, user_id: int, collected_id: int) -> bool:
        """False if the user has no such collected address."""
        collected = _owned(self.session, CollectedAddress, user_id, collected_id)
        if collected is None:
            return False
        self.session.delete(collected)
        return True


class IdentityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_user(self, user_id: int) -> list[Identity]:
        query = select(Identity).where(Identity.user_id == user_id).order_by(Identity.id)
        return list(self.session.scalars(query))

    def save(self, identity: Identity) -> None:
        """Write a new or changed identity (it gets its id)."""
        self.session.add(identity)
        self.session.flush()

    def delete(self, user_id: int, identity_id: int) -> bool:
        """False if there is no such identity of this user."""
        identity = _owned(self.session, Identity, user_id, identity_id)
        if identity is None:
            return False
        self.session.delete(identity)
        self.session.flush()
        return True


class RemoteContentRepository:
    """Senders whose remote content the user always loads."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def is_allowed(self, user_id: int, address: str) -> bool:
        query = select(RemoteContentSender.id).where(
            RemoteContentSender.user_id == user_id, RemoteContentSender.address == address.lower()
        )
        return self.session.scalars(query).first() is not None

    def for_user(self, user_id: int) -> list[str]:
        query = select(RemoteContentSender.address).where(RemoteContentSender.user_id == user_id)
        return list(self.session.scalars(query.order_by(RemoteContentSender.address)))

    def allow(self, user_id: int, address: str) -> None:
        if not self.is_allowed(user_id, address):
            self.session.add(RemoteContentSender(user_id=user_id, address=address.lower()))
            self.session.flush()


class SavedSearchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def list(self, user_id: int) -> list[SavedSearch]:
        query = select(SavedSearch).where(SavedSearch.user_id == user_id).order_by(SavedSearch.name)
        return list(self.session.scalars(query))

    def add(self, user_id: int, name: str, query: str, folder: str) -> SavedSearch:
        saved = SavedSearch(user_id=user_id, name=name, query=query, folder=folder)
        self.session.add(saved)
        self.session.flush()
        return saved

    def delete(self, user_id: int, search_id: int) -> bool:
        saved = _owned(self.session, SavedSearch, user_id, search_id)
        if saved is None:
            return False
        self.session.delete(saved)
        self.session.flush()
        return True


class POP3StateRepository:
    """The UIDLs imported from one POP3 account: the fetcher's memory, one commit per message."""

    def __init__(self, session: Session, account_id: int) -> None:
        self.session = session
        self.account_id = account_id

    def imported(self) -> dict[str, datetime]:
        query = select(POP3ImportedUID.uid, POP3ImportedUID.imported_at).where(
            POP3ImportedUID.account_id == self.account_id
        )
        return {row.uid: row.imported_at for row in self.session.execute(query)}

    def record(self, uid: str) -> None:
        self.session.add(POP3ImportedUID(account_id=self.account_id, uid=uid))
        self.session.flush()

    def has_run(self) -> bool:
        account = self.session.get(POP3Account, self.account_id)
        return bool(account and account.has_run)

    def mark_run(self) -> None:
        account = self.session.get(POP3Account, self.account_id)
        if account is not None:
            account.has_run = True
            self.session.flush()


class POP3AccountRepository:
    RUNS_KEPT = 20

    def __init__(self, session: Session) -> None:
        self.session = session

    def for_user(self, user_id: int) -> list[POP3Account]:
        query = select(POP3Account).where(POP3Account.user_id == user_id).order_by(POP3Account.id)
        return list(self.session.scalars(query))

    def count(self, user_id: int) -> int:
        query = select(func.count()).select_from(POP3Account).where(POP3Account.user_id == user_id)
        return int(self.session.scalar(query) or 0)

    def get(self, user_id: int, account_id: int) -> POP3Account | None:
        return _owned(self.session, POP3Account, user_id, account_id)

    def due(self, now: datetime) -> list[int]:
        """Enabled accounts whose next fetch time has come (or that never ran)."""
        query = select(POP3Account.id).where(
            POP3Account.enabled.is_(True),
            or_(POP3Account.next_run_at.is_(None), POP3Account.next_run_at <= now),
        )
        return list(self.session.scalars(query))

    def runs(self, account_id: int) -> list[POP3Run]:
        query = (
            select(POP3Run)
            .where(POP3Run.account_id == account_id)
            .order_by(POP3Run.id.desc())
            .limit(self.RUNS_KEPT)
        )
        return list(self.session.scalars(query))

    def add_run(self, run: POP3Run) -> None:
        self.session.add(run)
        self.session.flush()
        keep = select(POP3Run.id).where(POP3Run.account_id == run.account_id).order_by(POP3Run.id.desc())
        kept = list(self.session.scalars(keep.limit(self.RUNS_KEPT)))
        self.session.execute(
            delete(POP3Run).where(POP3Run.account_id == run.account_id, POP3Run.id.not_in(kept))
        )


class ArchiveRuleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_user(self, user_id: int) -> list[ArchiveRule]:
        query = (
            select(ArchiveRule)
            .where(ArchiveRule.user_id == user_id)
            .order_by(ArchiveRule.folder, ArchiveRule.id)
        )
        return list(self.session.scalars(query))

    def get(self, user_id: int, rule_id: int) -> ArchiveRule | None:
        return _owned(self.session, ArchiveRule, user_id, rule_id)

    def add(self, rule: ArchiveRule) -> ArchiveRule:
        self.session.add(rule)
        self.session.flush()
        return rule

    def delete(self, user_id: int, rule_id: int) -> bool:
        rule = _owned(self.session, ArchiveRule, user_id, rule_id)
        if rule is None:
            return False
        self.session.delete(rule)
        self.session.flush()
        return True

    def due(self, before: datetime) -> list[int]:
        """Enabled rules that have not run since ``before`` (the daily run)."""
        query = select(ArchiveRule.id).where(
            ArchiveRule.enabled.is_(True),
            or_(ArchiveRule.last_run_at.is_(None), ArchiveRule.last_run_at < before),
        )
        return list(self.session.scalars(query))
