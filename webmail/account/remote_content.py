"""Senders whose remote images the user chose to always load.

Everyone else's stay blocked: mail.sanitize drops remote image URLs, and the message body's
Content-Security-Policy (web/routes/message.py) forbids remote loads, unless the reader allows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.db.repos import RemoteContentRepository, UserRepository


@dataclass
class RemoteContentService:
    db: sessionmaker[DBSession]
    imap_host: str

    async def is_allowed(self, login: str, sender: str) -> bool:
        """Whether the user always loads remote content in mail from this address."""

        def check() -> bool:
            with self.db() as session:
                user = UserRepository(session).get(login, self.imap_host)
                return user is not None and RemoteContentRepository(session).is_allowed(user.id, sender)

        return await anyio.to_thread.run_sync(check)

    async def allow(self, login: str, sender: str) -> None:
        """Always load remote content in mail from this address."""

        def allow() -> None:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.imap_host)
                RemoteContentRepository(session).allow(user.id, sender)

        await anyio.to_thread.run_sync(allow)

    async def senders(self, login: str) -> list[str]:
        """The addresses whose remote content the user always loads."""

        def load() -> list[str]:
            with self.db() as session:
                user = UserRepository(session).get(login, self.imap_host)
                return RemoteContentRepository(session).for_user(user.id) if user else []

        return await anyio.to_thread.run_sync(load)
