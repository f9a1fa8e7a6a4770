"""MailStore: the async, typed facade the web layer uses for one user's mailbox."""

from __future__ import annotations

from dataclasses import dataclass

from webmail.imap.folders import list_folders
from webmail.imap.pool import IMAPPool
from webmail.imap.types import Credentials, Folder


@dataclass
class MailStore:
    pool: IMAPPool
    session_key: str
    credentials: Credentials

    async def list_folders(self) -> list[Folder]:
        return await self.pool.run(self.session_key, self.credentials, list_folders)
