"""Demo mode's address book, display names and saved searches (issue 15): written at start, once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fresh_database, make_settings
from webmail.app import create_app
from webmail.config import DEMO_USERS
from webmail.devservices import DevServices


def test_demo_mode_starts_with_contacts_names_and_searches(
    services: DevServices, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(services, fresh_database(tmp_path_factory), demo=True)
    for _start in range(2):  # a second start adds nothing twice
        with TestClient(create_app(settings)) as client:
            found = client.app.state.services  # type: ignore[attr-defined]
            login = DEMO_USERS[0][0]
            contacts = client.portal.call(found.contacts.all, login)  # type: ignore[union-attr]
            bobs = client.portal.call(found.contacts.all, DEMO_USERS[1][0])  # type: ignore[union-attr]
            identities = client.portal.call(found.identities.for_user, login)  # type: ignore[union-attr]
            searches = client.portal.call(found.saved_searches.all, login)  # type: ignore[union-attr]
    assert len(contacts) == 8
    assert {"Team", "Friends", "Family"} <= {group for c in contacts for group in c.groups}
    assert "Bob Demo" in {c.name for c in contacts}
    assert "Bob Demo" not in {c.name for c in bobs}  # nobody is in their own address book
    assert [i.from_header for i in identities] == ["Demo User <demo@example.test>"]
    assert [s.name for s in searches] == ["Unread from Alice", "With attachments"]
