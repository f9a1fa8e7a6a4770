"""The account services against the migrated test database, SQLite and PostgreSQL: each user sees and
changes only their own data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import run_async
from webmail.account.contacts import ContactNotFoundError, ContactService
from webmail.account.identities import IdentityForm, IdentityNotFoundError, IdentityService
from webmail.account.preferences import PreferencesService
from webmail.account.remote_content import RemoteContentService
from webmail.account.searches import MAX_SAVED_SEARCHES, SavedSearchService
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.errors import LimitReachedError
from webmail.mail.cards import Card

HOST = "imap.test"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[sessionmaker[Session]]:
    fixture = "database_url" if request.param == "sqlite" else "postgres_database_url"
    engine = create_db_engine(request.getfixturevalue(fixture))
    yield create_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def login() -> str:
    return f"t-{uuid.uuid4().hex}@test"


@pytest.fixture
def stranger() -> str:
    return f"t-{uuid.uuid4().hex}@test"


def identity(email: str, *, is_default: bool = False) -> IdentityForm:
    return IdentityForm("", email, "", False, "", "", is_default)


class TestContacts:
    def test_delete(self, db: sessionmaker[Session], login: str) -> None:
        contacts = ContactService(db, HOST)

        async def scenario() -> list[str]:
            kept = await contacts.save(login, None, Card("Kept", ["kept@example.org"]))
            gone = await contacts.save(login, None, Card("Gone", ["gone@example.org"]))
            await contacts.delete(login, gone.id)
            with pytest.raises(ContactNotFoundError):
                await contacts.delete(login, gone.id)
            return [c.name for c in await contacts.all(login) if c.id in (kept.id, gone.id)]

        assert run_async(scenario) == ["Kept"]

    def test_another_users_contact_is_not_found(
        self, db: sessionmaker[Session], login: str, stranger: str
    ) -> None:
        contacts = ContactService(db, HOST)

        async def scenario() -> list[str]:
            theirs = await contacts.save(stranger, None, Card("Theirs", ["theirs@example.org"]))
            with pytest.raises(ContactNotFoundError):
                await contacts.save(login, theirs.id, Card("Mine now", ["mine@example.org"]))
            with pytest.raises(ContactNotFoundError):
                await contacts.delete(login, theirs.id)
            return [c.name for c in await contacts.all(stranger)]

        assert run_async(scenario) == ["Theirs"]

    def test_collected_addresses_count_uses_and_leave_when_they_become_contacts(
        self, db: sessionmaker[Session], login: str
    ) -> None:
        contacts = ContactService(db, HOST)

        async def scenario() -> tuple[list[tuple[str, str, int]], list[str]]:
            await contacts.collect(
                login, [("Ann", "Ann@Example.org"), ("", "ann@example.org"), ("Bo", "bo@x.org")]
            )
            await contacts.collect(login, [("", "bo@x.org"), ("Cy", "not an address")])
            counted = [(c.email, c.name, c.uses) for c in await contacts.collected(login)]
            await contacts.save(login, None, Card("Bo", ["BO@x.org"]))
            ann = next(c for c in await contacts.collected(login) if c.email == "ann@example.org")
            await contacts.forget(login, ann.id)
            with pytest.raises(ContactNotFoundError):
                await contacts.forget(login, ann.id)
            await contacts.collect(login, [("Bo", "bo@x.org")])  # a contact: not collected again
            return counted, [c.email for c in await contacts.collected(login)]

        counted, left = run_async(scenario)
        assert sorted(counted) == [("ann@example.org", "Ann", 2), ("bo@x.org", "Bo", 2)]
        assert left == []

    def test_a_full_address_book_is_a_limit_not_a_missing_contact(
        self, db: sessionmaker[Session], login: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("webmail.account.contacts.MAX_CONTACTS", 2)
        contacts = ContactService(db, HOST)

        async def scenario() -> LimitReachedError:
            first = await contacts.save(login, None, Card("One", ["one@example.org"]))
            await contacts.save(login, None, Card("Two", ["two@example.org"]))
            with pytest.raises(LimitReachedError) as refused:
                await contacts.save(login, None, Card("Three", ["three@example.org"]))
            await contacts.save(login, first.id, Card("One again", ["one@example.org"]))  # editing is fine
            return refused.value

        refused = run_async(scenario)
        assert (refused.status_code, refused.user_message) == (409, "At most 2 contacts.")
        assert not isinstance(refused, ContactNotFoundError)


class TestIdentities:
    def test_deleting_the_default_makes_the_next_one_default(
        self, db: sessionmaker[Session], login: str
    ) -> None:
        identities = IdentityService(db, HOST)

        async def scenario() -> list[tuple[str, bool]]:
            first = await identities.save(login, None, identity("first@example.org", is_default=True))
            await identities.save(login, None, identity("second@example.org"))
            await identities.save(login, None, identity("third@example.org"))
            await identities.delete(login, first.id or 0)
            with pytest.raises(IdentityNotFoundError):
                await identities.delete(login, first.id or 0)
            return [(i.email, i.is_default) for i in await identities.for_user(login)]

        assert run_async(scenario) == [("second@example.org", True), ("third@example.org", False)]

    def test_a_new_default_replaces_the_old(self, db: sessionmaker[Session], login: str) -> None:
        identities = IdentityService(db, HOST)

        async def scenario() -> list[tuple[str, bool]]:
            await identities.save(login, None, identity("first@example.org"))
            await identities.save(login, None, identity("second@example.org", is_default=True))
            return [(i.email, i.is_default) for i in await identities.for_user(login)]

        assert run_async(scenario) == [("first@example.org", False), ("second@example.org", True)]

    def test_another_users_identity_is_not_found(
        self, db: sessionmaker[Session], login: str, stranger: str
    ) -> None:
        identities = IdentityService(db, HOST)

        async def scenario() -> None:
            theirs = await identities.save(stranger, None, identity("theirs@example.org"))
            await identities.save(login, None, identity("mine@example.org"))
            with pytest.raises(IdentityNotFoundError):
                await identities.delete(login, theirs.id or 0)
            with pytest.raises(IdentityNotFoundError):
                await identities.save(login, theirs.id, identity("stolen@example.org"))

        run_async(scenario)

    def test_without_identities_the_login_address_is_used(
        self, db: sessionmaker[Session], login: str
    ) -> None:
        found = run_async(IdentityService(db, HOST).for_user, login)
        assert [(i.id, i.email, i.is_default) for i in found] == [(None, login, True)]

    def test_too_many_identities_is_a_limit_not_a_missing_identity(
        self, db: sessionmaker[Session], login: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("webmail.account.identities.MAX_IDENTITIES", 1)
        identities = IdentityService(db, HOST)

        async def scenario() -> LimitReachedError:
            await identities.save(login, None, identity("first@example.org"))
            with pytest.raises(LimitReachedError) as refused:
                await identities.save(login, None, identity("second@example.org"))
            return refused.value

        refused = run_async(scenario)
        assert (refused.status_code, refused.user_message) == (409, "At most 1 identities.")
        assert not isinstance(refused, IdentityNotFoundError)


class TestSavedSearches:
    def test_limit_and_delete(self, db: sessionmaker[Session], login: str, stranger: str) -> None:
        searches = SavedSearchService(db, HOST)

        async def scenario() -> tuple[list[bool], bool, bool, int]:
            added = [
                await searches.save(login, f"s{n:02}", "from:anna", "INBOX")
                for n in range(MAX_SAVED_SEARCHES + 1)
            ]
            first = (await searches.all(login))[0]
            by_stranger = await searches.delete(stranger, first.id)
            by_owner = await searches.delete(login, first.id)
            return added, by_stranger, by_owner, len(await searches.all(login))

        added, by_stranger, by_owner, left = run_async(scenario)
        assert added == [True] * MAX_SAVED_SEARCHES + [False]
        assert (by_stranger, by_owner, left) == (False, True, MAX_SAVED_SEARCHES - 1)


def test_remote_content_is_allowed_per_user_and_address(
    db: sessionmaker[Session], login: str, stranger: str
) -> None:
    remote = RemoteContentService(db, HOST)

    async def scenario() -> tuple[bool, bool, bool, bool]:
        before = await remote.is_allowed(login, "news@shop.example")
        await remote.allow(login, "News@Shop.example")
        await remote.allow(login, "news@shop.example")  # twice is once
        return (
            before,
            await remote.is_allowed(login, "NEWS@shop.example"),
            await remote.is_allowed(login, "other@shop.example"),
            await remote.is_allowed(stranger, "news@shop.example"),
        )

    assert run_async(scenario) == (False, True, False, False)


def test_preferences_saved_by_one_worker_are_read_by_another(db: sessionmaker[Session], login: str) -> None:
    async def scenario() -> tuple[int, int, str]:
        fresh = await PreferencesService(db, HOST).get(login)
        await PreferencesService(db, HOST).save(login, fresh.model_copy(update={"page_size": 100}))
        other = await PreferencesService(db, HOST).get(login)
        return fresh.page_size, other.page_size, other.archive_layout

    assert run_async(scenario) == (50, 100, "flat")
