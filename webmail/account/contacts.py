"""The user's address book: contacts with groups, recipients collected on send, suggestions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address

import anyio.to_thread
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.db.models import Contact, User
from webmail.db.repos import CollectedAddressRepository, ContactRepository, UserRepository
from webmail.errors import LimitReachedError, WebmailError
from webmail.mail.cards import EMAIL, Card

MAX_CONTACTS = 5000
SUGGESTIONS = 10


class ContactNotFoundError(WebmailError):
    """Raised when a contact or collected address is not (or no longer) the user's."""

    status_code = 404
    user_message = "This contact does not exist (deleted?)."


@dataclass(frozen=True)
class ContactView:
    id: int
    name: str
    emails: tuple[str, ...]
    notes: str
    groups: tuple[str, ...]

    def card(self) -> Card:
        return Card(self.name, list(self.emails), self.notes, list(self.groups))


@dataclass(frozen=True)
class CollectedView:
    id: int
    email: str
    name: str
    uses: int


@dataclass(frozen=True)
class Suggestion:
    label: str  # what the list shows
    value: str  # what goes into the field: "Name <address>" or a group's addresses


def _view(row: Contact) -> ContactView:
    return ContactView(row.id, row.name, tuple(row.emails or ()), row.notes, tuple(row.groups or ()))


def _recipient(name: str, email: str) -> str:
    """``Name <address>`` with the name quoted when it needs to be."""
    try:
        return str(Address(display_name=name, addr_spec=email))
    except (ValueError, IndexError):
        return email


@dataclass
class ContactService:
    db: sessionmaker[DBSession]
    imap_host: str

    def _user(self, session: DBSession, login: str) -> User:
        return UserRepository(session).get_or_create(login, self.imap_host)

    async def all(self, login: str, query: str = "", group: str = "") -> list[ContactView]:
        def load() -> list[ContactView]:
            with self.db.begin() as session:
                user = self._user(session, login)
                rows = ContactRepository(session).for_user(user.id)
                views = sorted(
                    (_view(r) for r in rows), key=lambda c: (c.name or "".join(c.emails[:1])).lower()
                )
            needle = query.lower().strip()
            return [
                c
                for c in views
                if (not group or group in c.groups)
                and (not needle or needle in c.name.lower() or any(needle in e.lower() for e in c.emails))
            ]

        return await anyio.to_thread.run_sync(load)

    async def groups(self, login: str) -> list[str]:
        return sorted({g for c in await self.all(login) for g in c.groups}, key=str.lower)

    async def get(self, login: str, contact_id: int) -> ContactView:
        for contact in await self.all(login):
            if contact.id == contact_id:
                return contact
        raise ContactNotFoundError()

    async def save(self, login: str, contact_id: int | None, card: Card) -> ContactView:
        def save() -> ContactView:
            with self.db.begin() as session:
                user = self._user(session, login)
                contacts = ContactRepository(session)
                if contact_id is None:
                    if contacts.count(user.id) >= MAX_CONTACTS:
                        raise LimitReachedError(f"At most {MAX_CONTACTS:,} contacts.")
                    row = Contact(user_id=user.id)
                else:
                    found = contacts.get(user.id, contact_id)
                    if found is None:
                        raise ContactNotFoundError()
                    row = found
                row.name, row.emails, row.notes, row.groups = card.name, card.emails, card.notes, card.groups
                # A contact now; no longer just collected.
                CollectedAddressRepository(session).forget_addresses(user.id, card.emails)
                contacts.save(row)
                return _view(row)

        return await anyio.to_thread.run_sync(save)

    async def delete(self, login: str, contact_id: int) -> None:
        def delete() -> None:
            with self.db.begin() as session:
                user = self._user(session, login)
                if not ContactRepository(session).delete(user.id, contact_id):
                    raise ContactNotFoundError()

        await anyio.to_thread.run_sync(delete)

    async def import_cards(self, login: str, cards: list[Card]) -> tuple[int, int]:
        """Add the cards; one whose address is already in the book is merged. (added, merged)"""
        current = await self.all(login)
        existing = {e.lower(): c for c in current for e in c.emails}
        by_name = {c.name.lower(): c for c in current if c.name and not c.emails}
        added = merged = 0
        for card in cards:
            match = next((existing[e.lower()] for e in card.emails if e.lower() in existing), None)
            if match is None and not card.emails:
                match = by_name.get(card.name.lower())  # no address to tell them apart: the name
            if match is None:
                saved = await self.save(login, None, card)
                added += 1
            else:
                combined = Card(
                    match.name or card.name,
                    list(dict.fromkeys([*match.emails, *card.emails])),
                    match.notes or card.notes,
                    list(dict.fromkeys([*match.groups, *card.groups])),
                )
                saved = await self.save(login, match.id, combined)
                merged += 1
            existing.update({e.lower(): saved for e in saved.emails})
            if not saved.emails and saved.name:
                by_name[saved.name.lower()] = saved
        return added, merged

    # ------------------------------------------------------------------ collected recipients

    async def collect(self, login: str, recipients: Iterable[tuple[str, str]]) -> None:
        """Remember (name, address) pairs the user wrote to, unless they are contacts already."""
        pairs = list(recipients)
        await anyio.to_thread.run_sync(lambda: self.collect_now(login, pairs))

    def collect_now(self, login: str, recipients: Iterable[tuple[str, str]]) -> None:
        """``collect`` for code outside the event loop (the background sender)."""
        with self.db.begin() as session:
            user = self._user(session, login)
            known = ContactRepository(session).addresses(user.id)
            collected = CollectedAddressRepository(session)
            for name, address in recipients:
                address = address.lower()
                if address in known or not EMAIL.match(address):
                    continue
                collected.record_use(user.id, address, name)

    async def collected(self, login: str) -> list[CollectedView]:
        def load() -> list[CollectedView]:
            with self.db.begin() as session:
                user = self._user(session, login)
                rows = CollectedAddressRepository(session).for_user(user.id)
                return [CollectedView(r.id, r.email, r.name, r.uses) for r in rows]

        return await anyio.to_thread.run_sync(load)

    async def promote(self, login: str, collected_id: int) -> ContactView:
        found = next((c for c in await self.collected(login) if c.id == collected_id), None)
        if found is None:
            raise ContactNotFoundError()
        return await self.save(login, None, Card(found.name, [found.email]))

    async def forget(self, login: str, collected_id: int) -> None:
        def forget() -> None:
            with self.db.begin() as session:
                user = self._user(session, login)
                if not CollectedAddressRepository(session).delete(user.id, collected_id):
                    raise ContactNotFoundError()

        await anyio.to_thread.run_sync(forget)

    async def suggest(self, login: str, text: str) -> list[Suggestion]:
        needle = text.strip().lower()
        if not needle:
            return []
        contacts = await self.all(login)
        found: list[Suggestion] = []
        for group in sorted({g for c in contacts for g in c.groups}):
            if needle in group.lower():
                members = [
                    _recipient(c.name, c.emails[0]) for c in contacts if group in c.groups and c.emails
                ]
                found.append(Suggestion(f"Group: {group} ({len(members)})", ", ".join(members)))
        for contact in contacts:
            for email in contact.emails:
                if needle in contact.name.lower() or needle in email.lower():
                    found.append(Suggestion(_recipient(contact.name, email), _recipient(contact.name, email)))
        for collected in await self.collected(login):
            if needle in collected.name.lower() or needle in collected.email:
                value = _recipient(collected.name, collected.email)
                found.append(Suggestion(value, value))
        unique = {s.value: s for s in found}
        return list(unique.values())[:SUGGESTIONS]
