"""A signed-in user's stored settings: preferences and senders trusted with remote content."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.db.preferences import Preferences
from webmail.db.repos import RemoteContentRepository, SavedSearchRepository, UserRepository

PREFERENCES_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class SavedSearchView:
    id: int
    name: str
    query: str
    folder: str


@dataclass
class AccountService:
    db: sessionmaker[DBSession]
    imap_host: str
    # Read on every page; a few seconds of staleness on other workers is fine for settings.
    _cache: dict[str, tuple[float, Preferences]] = field(default_factory=dict)

    async def preferences(self, login: str) -> Preferences:
        cached = self._cache.get(login)
        if cached is not None and time.monotonic() - cached[0] < PREFERENCES_TTL_SECONDS:
            return cached[1]

        def load() -> Preferences:
            with self.db() as session:
                user = UserRepository(session).get(login, self.imap_host)
                return Preferences.load(user.preferences if user else None)

        preferences = await anyio.to_thread.run_sync(load)
        self._cache[login] = (time.monotonic(), preferences)
        return preferences

    async def save_preferences(self, login: str, preferences: Preferences) -> None:
        def save() -> None:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.imap_host)
                user.preferences = preferences.model_dump()

        await anyio.to_thread.run_sync(save)
        self._cache[login] = (time.monotonic(), preferences)

    async def update_preferences(self, login: str, **changes: Any) -> Preferences:
        current = await self.preferences(login)
        updated = Preferences.model_validate({**current.model_dump(), **changes})
        await self.save_preferences(login, updated)
        return updated

    async def remote_allowed(self, login: str, sender: str) -> bool:
        def check() -> bool:
            with self.db() as session:
                user = UserRepository(session).get(login, self.imap_host)
                return user is not None and RemoteContentRepository(session).is_allowed(user.id, sender)

        return await anyio.to_thread.run_sync(check)

    async def allow_remote(self, login: str, sender: str) -> None:
        def allow() -> None:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.imap_host)
                RemoteContentRepository(session).allow(user.id, sender)

        await anyio.to_thread.run_sync(allow)

    async def saved_searches(self, login: str) -> list[SavedSearchView]:
        def load() -> list[SavedSearchView]:
            with self.db() as session:
                user = UserRepository(session).get(login, self.imap_host)
                if user is None:
                    return []
                return [
                    SavedSearchView(s.id, s.name, s.query, s.folder)
                    for s in SavedSearchRepository(session).list(user.id)
                ]

        return await anyio.to_thread.run_sync(load)

    async def save_search(self, login: str, name: str, query: str, folder: str) -> bool:
        """Keep a search; False if the user already has as many as allowed."""

        def save() -> bool:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.imap_host)
                repository = SavedSearchRepository(session)
                if len(repository.list(user.id)) >= SavedSearchRepository.LIMIT:
                    return False
                repository.add(user.id, name, query, folder)
                return True

        return await anyio.to_thread.run_sync(save)

    async def delete_search(self, login: str, search_id: int) -> bool:
        def delete() -> bool:
            with self.db.begin() as session:
                user = UserRepository(session).get(login, self.imap_host)
                return user is not None and SavedSearchRepository(session).delete(user.id, search_id)

        return await anyio.to_thread.run_sync(delete)
