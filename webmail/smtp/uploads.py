"""Attachments of messages being written, on disk: one folder per user and draft.

Uploads are streamed to disk as they arrive and counted against the size limit on the way, so a
too-large file is refused before it is stored whole (and never held in memory).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio

from webmail.mail.compose import Attachment, ComposeError

DRAFT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredAttachment:
    id: str
    filename: str
    content_type: str
    size: int


class UploadStore:
    def __init__(self, root: Path, limit_bytes: int) -> None:
        self.root = root
        self.limit_bytes = limit_bytes

    def folder(self, user: str, draft_id: str) -> Path:
        if not DRAFT_ID.match(draft_id):
            raise ComposeError("This message's attachments cannot be found; attach the files again.")
        owner = hashlib.sha256(user.lower().encode()).hexdigest()[:24]
        return self.root / owner / draft_id

    def stored(self, user: str, draft_id: str) -> list[StoredAttachment]:
        folder = self.folder(user, draft_id)
        if not folder.is_dir():
            return []
        found = []
        for meta in sorted(folder.glob("*.json"), key=lambda p: int(p.stem)):
            found.append(StoredAttachment(**json.loads(meta.read_text())))
        return found

    def used(self, user: str, draft_id: str) -> int:
        return sum(item.size for item in self.stored(user, draft_id))

    async def save(
        self, user: str, draft_id: str, filename: str, content_type: str, chunks: AsyncIterator[bytes]
    ) -> StoredAttachment:
        folder = self.folder(user, draft_id)
        folder.mkdir(parents=True, exist_ok=True)
        existing = [int(p.stem) for p in folder.glob("*.json")]
        number = str(max(existing, default=0) + 1)
        budget = self.limit_bytes - self.used(user, draft_id)
        path = folder / f"{number}.part"
        size = 0
        try:
            async with await anyio.open_file(path, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > budget:
                        raise ComposeError(
                            f"Attachments may be {self.limit_bytes // (1024 * 1024)} MB in all; "
                            f"“{filename}” is too large."
                        )
                    await out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        path.rename(folder / number)
        stored = StoredAttachment(
            number, _safe_name(filename), content_type or "application/octet-stream", size
        )
        (folder / f"{number}.json").write_text(json.dumps(asdict(stored)))
        return stored

    def remove(self, user: str, draft_id: str, attachment_id: str) -> None:
        folder = self.folder(user, draft_id)
        if attachment_id.isdigit():
            (folder / attachment_id).unlink(missing_ok=True)
            (folder / f"{attachment_id}.json").unlink(missing_ok=True)

    def attachments(self, user: str, draft_id: str) -> list[Attachment]:
        """The stored files, read for sending (the MIME message is built in memory anyway)."""
        folder = self.folder(user, draft_id)
        return [
            Attachment(item.filename, item.content_type, (folder / item.id).read_bytes())
            for item in self.stored(user, draft_id)
        ]

    def copy(self, user: str, source: str, target: str) -> None:
        """Carry the attachments over to another draft id (reopening a saved draft)."""
        origin, destination = self.folder(user, source), self.folder(user, target)
        if origin.is_dir() and origin != destination:
            shutil.copytree(origin, destination, dirs_exist_ok=True)

    def discard(self, user: str, draft_id: str) -> None:
        shutil.rmtree(self.folder(user, draft_id), ignore_errors=True)

    def expire(self, max_age_seconds: float) -> int:
        """Remove drafts' folders untouched for this long (abandoned compositions)."""
        removed = 0
        cutoff = time.time() - max_age_seconds
        for folder in self.root.glob("*/*"):
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


def _safe_name(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in "\r\n\0").strip()
    return name[:200] or "attachment"
