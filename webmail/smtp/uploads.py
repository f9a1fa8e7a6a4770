"""Attachments of messages being written, on disk: one folder per user and draft.

Uploads are streamed to disk as they arrive and counted against the size limits on the way, so a
too-large file is refused before it is stored whole (and never held in memory). Two limits: the
attachments of one message (``WEBMAIL_MAX_ATTACHMENT_MB``), and everything one user keeps here
across all drafts (``WEBMAIL_UPLOAD_QUOTA_MB``), since the browser chooses the draft ids and could
otherwise open as many as it likes. The user's total is measured on disk, files still arriving
included, so uploads running side by side cannot pass it together.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio
from anyio import AsyncFile

from webmail.config import Settings
from webmail.mail.compose import Attachment, ComposeError

# The disk of the uploads folder is full, the user's disk quota there is, or a file passes the
# process's file size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG).
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class UploadsFullError(ComposeError):
    """Raised when the server has no room to store an attachment (its disk is full, or the file
    passes its file size limit); what was written is kept, the file is not."""

    status_code = 507

    def __init__(self, filename: str) -> None:
        super().__init__(
            f"The server has no room to store “{filename}” right now, so it is not attached. "
            "Your text is kept; try attaching it again later, or send the message without it."
        )


DRAFT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CHUNK = 1024 * 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class StoredAttachment:
    id: str
    filename: str
    content_type: str
    size: int


class UploadStore:
    def __init__(self, root: Path, limit_bytes: int, quota_bytes: int) -> None:
        self.root = root
        self.limit_bytes = limit_bytes
        self.quota_bytes = quota_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadStore:
        return cls(settings.upload_dir, settings.max_attachment_mb * MB, settings.upload_quota_mb * MB)

    def _owner(self, user: str) -> Path:
        return self.root / hashlib.sha256(user.encode()).hexdigest()[:24]

    def folder(self, user: str, draft_id: str) -> Path:
        if not DRAFT_ID.match(draft_id):
            raise ComposeError("This message's attachments cannot be found; attach the files again.")
        return self._owner(user) / draft_id

    def used_by(self, user: str) -> int:
        """Bytes the user keeps here across all drafts, files still arriving included."""
        total = 0
        for path in self._owner(user).glob("*/*"):
            if path.suffix != ".json":
                try:
                    total += path.stat().st_size
                except FileNotFoundError:
                    pass  # removed in between
        return total

    def room(self, user: str, draft_id: str) -> int:
        """How many more bytes this draft may take, by both limits."""
        return min(self.limit_bytes - self.used(user, draft_id), self.quota_bytes - self.used_by(user))

    def too_large(self, user: str, draft_id: str, filename: str) -> ComposeError:
        """The refusal for a file that does not fit, naming the limit that is nearer."""
        quota_room = self.quota_bytes - self.used_by(user)
        return self._refusal(filename, quota=quota_room < self.limit_bytes - self.used(user, draft_id))

    def _refusal(self, filename: str, *, quota: bool) -> ComposeError:
        if quota:
            return ComposeError(
                f"Your unsent attachments may take {self.quota_bytes // MB} MB in all, across your "
                f"drafts; “{filename}” does not fit. Send or discard other drafts first."
            )
        return ComposeError(
            f"Attachments may be {self.limit_bytes // MB} MB in all; “{filename}” is too large."
        )

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
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno in FULL:
                raise UploadsFullError(_safe_name(filename)) from exc
            raise
        existing = [int(p.stem) for p in folder.glob("*.json")]
        number = str(max(existing, default=0) + 1)
        budget = self.limit_bytes - self.used(user, draft_id)
        path = folder / f"{number}.part"
        size = 0
        checked = 0  # the user's total is measured on disk once per CHUNK written, and at the end
        try:
            async with await anyio.open_file(path, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > budget:
                        raise self._refusal(filename, quota=False)
                    await out.write(chunk)
                    if size - checked >= CHUNK:
                        checked = size
                        await self._check_quota(out, user, filename)
                await self._check_quota(out, user, filename)
            path.rename(folder / number)
            stored = StoredAttachment(
                number, _safe_name(filename), content_type or "application/octet-stream", size
            )
            (folder / f"{number}.json").write_text(json.dumps(asdict(stored)))
        except OSError as exc:
            self._forget(folder, number, path)
            if exc.errno in FULL:
                raise UploadsFullError(_safe_name(filename)) from exc
            raise
        except BaseException:
            self._forget(folder, number, path)
            raise
        return stored

    def _forget(self, folder: Path, number: str, partial: Path) -> None:
        """A file that could not be stored whole leaves nothing behind."""
        for path in (partial, folder / number, folder / f"{number}.json"):
            path.unlink(missing_ok=True)

    async def _check_quota(self, out: AsyncFile[bytes], user: str, filename: str) -> None:
        await out.flush()
        if self.used_by(user) > self.quota_bytes:
            raise self._refusal(filename, quota=True)

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
