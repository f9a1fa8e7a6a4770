"""The IMAP side of importing mail (the POP3 fetcher's target folder)."""

from __future__ import annotations

from datetime import datetime

from imapclient import IMAPClient

from webmail.imap.errors import map_imap_errors
from webmail.imap.messages import search_arguments
from webmail.imap.raw import uid_search
from webmail.mail.identity import Identity


class FolderTarget:
    """Append into one folder (created and subscribed if missing), checking for copies first."""

    def __init__(self, client: IMAPClient, folder: str) -> None:
        self.client = client
        self.folder = folder
        with map_imap_errors():
            if not client.folder_exists(folder):
                client.create_folder(folder)
                client.subscribe_folder(folder)
            client.select_folder(folder)

    def contains(self, identity: Identity) -> bool:
        """True if a message with this identity is in the folder already."""
        if identity.message_id:
            criteria: list[object] = ["HEADER", b"Message-ID", identity.message_id.encode()]
        else:
            criteria = []
            for name, value in (
                ("Date", identity.date),
                ("From", identity.sender),
                ("Subject", identity.subject),
            ):
                if value:
                    criteria += ["HEADER", name.encode(), value.encode()]
            if not criteria:
                return False
        with map_imap_errors():
            self.client.noop()
            return bool(uid_search(self.client, search_arguments(criteria)))

    def append(self, raw: bytes, when: datetime | None, *, seen: bool) -> None:
        flags = [b"\\Seen"] if seen else []
        with map_imap_errors():
            self.client.append(self.folder, raw, flags=flags, msg_time=when)
