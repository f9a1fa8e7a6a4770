"""Background exports on disk: a folder per user under ``WEBMAIL_EXPORT_DIR``, and per export
its manifest (``<id>.json``: what, how far, where the file ends) and its file (``<id>.part``
while written, ``<id>.mbox`` or ``<id>.zip`` when ready).

The worker appends a chunk of messages, flushes it to disk, then replaces the manifest; after a
crash the next run cuts the file back to the manifest's length and goes on from there. The
user's folder is named by a hash of the login and the IMAP host, and every manifest names its
owner too: a file is only ever found through its owner's folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from webmail.errors import WebmailError

ExportKind = Literal["mbox", "zip"]
JobState = Literal["queued", "running", "ready", "failed"]
EXPORT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
STUCK = timedelta(days=7)  # an export that never ended is dropped after this


class ExportNotFoundError(WebmailError):
    """Raised when an export id is not (or no longer) one of the user's background exports."""

    status_code = 404
    user_message = "This export does not exist (any more): exports are deleted after a while."


@dataclass(frozen=True)
class ExportJob:
    """One background export: what was asked, how far it is, what came of it."""

    id: str
    owner: str  # the login (canonical account name) it belongs to
    folder: str
    kind: ExportKind
    filename: str  # the name the download gets
    created: str  # ISO time, UTC
    query: str = ""  # a search's words, or
    selection: str = ""  # a UID set chosen in the list; neither: the whole folder
    state: JobState = "queued"
    uidvalidity: int = 0
    uids: str = ""  # the UID set being exported, fixed by the first run
    total: int = 0
    position: int = 0  # how many of ``uids`` (in order) are in the file
    written: int = 0  # messages in the file (those expunged meanwhile are left out)
    offset: int = 0  # the file's length after ``position``
    directory_offset: int = 0  # the length of ``<id>.zipdir`` (the zip's entries so far) after ``position``
    finished: str = ""
    error: str = ""

    @property
    def done(self) -> bool:
        return self.state in ("ready", "failed")

    def expires(self, retention: timedelta) -> datetime:
        """When it is deleted: ``retention`` after it ended; a week after it began if it never does."""
        if self.done:
            return datetime.fromisoformat(self.finished or self.created) + retention
        return datetime.fromisoformat(self.created) + max(retention, STUCK)


def owner_folder(root: Path, login: str, imap_host: str) -> Path:
    digest = hashlib.sha256(f"{login.lower()}\0{imap_host.lower()}".encode()).hexdigest()[:32]
    return root / digest


@dataclass(frozen=True)
class ExportFiles:
    """One user's background exports."""

    folder: Path
    owner: str

    @classmethod
    def of(cls, root: Path, login: str, imap_host: str) -> ExportFiles:
        return cls(owner_folder(root, login, imap_host), login)

    def manifest(self, export_id: str) -> Path:
        return self.folder / f"{export_id}.json"

    def part(self, export_id: str) -> Path:
        return self.folder / f"{export_id}.part"

    def directory(self, export_id: str) -> Path:
        """A zip export's entries so far (JSON lines), for the directory its last run writes."""
        return self.folder / f"{export_id}.zipdir"

    def read_directory(self, job: ExportJob) -> list[dict[str, Any]]:
        """The entries up to the manifest's checkpoint (a dead run's later lines are cut off)."""
        path = self.directory(job.id)
        if not path.exists():
            return []
        with open(path, "r+b") as sidecar:
            sidecar.truncate(job.directory_offset)
            return [json.loads(line) for line in sidecar.read().splitlines() if line]

    def add_directory(self, job: ExportJob, entries: list[dict[str, Any]]) -> int:
        """Append ``entries`` durably; the sidecar's new length."""
        with open(self.directory(job.id), "ab") as sidecar:
            sidecar.write(b"".join(json.dumps(entry).encode() + b"\n" for entry in entries))
            sidecar.flush()
            os.fsync(sidecar.fileno())
            return sidecar.tell()

    def result(self, job: ExportJob) -> Path:
        return self.folder / f"{job.id}.{job.kind}"

    def create(self, folder: str, kind: ExportKind, filename: str, query: str, selection: str) -> ExportJob:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        job = ExportJob(
            id=secrets.token_urlsafe(18), owner=self.owner, folder=folder, kind=kind, filename=filename,
            created=datetime.now(UTC).isoformat(), query=query, selection=selection,
        )  # fmt: skip
        self.part(job.id).touch(mode=0o600)
        self.save(job)
        return job

    def load(self, export_id: str) -> ExportJob | None:
        """The export ``export_id`` if it is one of this user's (None otherwise)."""
        if not EXPORT_ID.fullmatch(export_id):
            return None
        try:
            data = json.loads(self.manifest(export_id).read_text(encoding="utf-8"))
            job = ExportJob(**data)
        except (OSError, ValueError, TypeError):
            return None
        if job.owner != self.owner or job.id != export_id or job.kind not in ("mbox", "zip"):
            return None
        return job

    def save(self, job: ExportJob) -> None:
        """Replace the manifest in one step (a crash leaves the old one or the new one)."""
        target = self.manifest(job.id)
        temporary = target.with_suffix(".json.tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(asdict(job), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)

    def update(self, job: ExportJob, **changes: Any) -> ExportJob:
        job = replace(job, **changes)
        self.save(job)
        return job

    def jobs(self) -> list[ExportJob]:
        """This user's exports, newest first."""
        if not self.folder.is_dir():
            return []
        found = [self.load(path.stem) for path in self.folder.glob("*.json")]
        return sorted((job for job in found if job is not None), key=lambda job: job.created, reverse=True)

    def delete(self, job: ExportJob) -> None:
        for path in (self.part(job.id), self.directory(job.id), self.result(job), self.manifest(job.id)):
            path.unlink(missing_ok=True)


def every_job(root: Path) -> Iterator[tuple[ExportFiles, ExportJob]]:
    """Every user's exports (the worker's housekeeping)."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        for path in folder.glob("*.json") if folder.is_dir() else ():
            try:
                owner = json.loads(path.read_text(encoding="utf-8"))["owner"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            files = ExportFiles(folder, str(owner))
            job = files.load(path.stem)
            if job is not None:
                yield files, job


def sweep(root: Path, retention: timedelta, now: datetime | None = None) -> int:
    """Delete the exports that expired (``ExportJob.expires``); how many."""
    now = now or datetime.now(UTC)
    removed = 0
    for files, job in list(every_job(root)):
        if job.expires(retention) <= now:
            files.delete(job)
            removed += 1
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    return removed
