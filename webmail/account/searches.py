"""Saved searches: a query kept under the folders as a virtual folder."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.db.repos import SavedSearchRepository, UserRepository

MAX_SAVED_SEARCHES = 20


@dataclass(frozen=True)
class SavedSearchView:
    id: int
    name: str
    query: str
    folder: str


@dataclass
class SavedSearchService:
    db: sessionmaker[DBSession]
    imap_host: str

    async def all(self, login: str) -> list[SavedSearchView]:
        """The user's saved searches, by name."""

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

    async def save(self, login: str, name: str, query: str, folder: str) -> bool:
        """Keep a search; False if the user already has as many as allowed."""

        def save() -> bool:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.imap_host)
                repository = SavedSearchRepository(session)
                if len(repository.list(user.id)) >= MAX_SAVED_SEARCHES:
                    return False
                repository.add(user.id, name, query, folder)
                return True

        return await anyio.to_thread.run_sync(save)

    async def delete(self, login: str, search_id: int) -> bool:
        """Forget a saved search; False if it is not the user's."""

        def delete() -> bool:
            with self.db.begin() as session:
                user = UserRepository(session).get(login, self.imap_host)
                return user is not None and SavedSearchRepository(session).delete(user.id, search_id)

        return await anyio.to_thread.run_sync(delete)
