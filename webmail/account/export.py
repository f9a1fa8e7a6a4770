"""A user's settings as one JSON-ready document (``webmail users export-settings USER``): what
they chose here, without their mail, their address book or any password."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.account.identities import IdentityService
from webmail.account.preferences import PreferencesService
from webmail.account.remote_content import RemoteContentService
from webmail.account.searches import SavedSearchService
from webmail.db.repos import POP3AccountRepository, UserRepository

# The columns of an external account worth exporting: everything but its sealed password.
POP3_FIELDS = ("host", "port", "security", "username", "folder", "leave_on_server", "delete_after_days",
               "only_new", "mark_read", "max_size_mb", "interval_minutes", "enabled")  # fmt: skip


async def export_settings(db: sessionmaker[DBSession], imap_host: str, login: str) -> dict[str, Any] | None:
    """Preferences, identities and signatures, saved searches, the senders whose remote content
    loads, and the external POP3 accounts (without their passwords); None if ``login`` has never
    signed in here."""

    def load_user() -> tuple[datetime, datetime | None, list[dict[str, Any]]] | None:
        with db() as session:
            user = UserRepository(session).get(login, imap_host)
            if user is None:
                return None
            accounts = POP3AccountRepository(session).for_user(user.id)
            pop3 = [{name: getattr(account, name) for name in POP3_FIELDS} for account in accounts]
            return user.created_at, user.last_login_at, pop3

    found = await anyio.to_thread.run_sync(load_user)
    if found is None:
        return None
    created, last_login, pop3 = found
    preferences = await PreferencesService(db, imap_host).get(login)
    identities = await IdentityService(db, imap_host).for_user(login)
    searches = await SavedSearchService(db, imap_host).all(login)
    return {
        "user": login,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "first_sign_in": created.isoformat(timespec="seconds"),
        "last_sign_in": last_login.isoformat(timespec="seconds") if last_login else None,
        "preferences": preferences.model_dump(),
        "identities": [dataclasses.asdict(identity) for identity in identities if identity.id is not None],
        "saved_searches": [{"name": s.name, "query": s.query, "folder": s.folder} for s in searches],
        "remote_content_senders": await RemoteContentService(db, imap_host).senders(login),
        "pop3_accounts": pop3,
    }
