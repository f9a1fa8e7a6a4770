"""Background exports in ``webmail worker``: queued from the web, written in chunks to the data
folder (``exports/files.py``), resumed after a worker restart, announced when ready, deleted
after the retention time.

A run logs in with the background credentials (``auth/background.py``) and takes the user's
connections with the background priority, like the auto-archive rules. One run per export at a
time: the run holds a Redis lock it renews while it writes; the worker's scheduler queues again
any unfinished export whose lock lapsed (its worker died) and nobody queued.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import anyio
from redis import Redis
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from webmail.auth.background import background_credentials
from webmail.config import Settings
from webmail.db.repos import UserRepository
from webmail.errors import LimitReachedError, WebmailError
from webmail.events import ExportProgress, ExportState, publish
from webmail.exports.files import ExportFiles, ExportJob, ExportKind, every_job, sweep
from webmail.exports.writers import MboxAppender, ZipAppender
from webmail.imap.background import background_store
from webmail.imap.errors import MailboxBusyError, UIDValidityChangedError, UnavailableError
from webmail.imap.store import MailStore
from webmail.imap.uidset import UIDSet, parse_uid_set
from webmail.mail.query import parse_search
from webmail.redis import Keys, create_sync_redis

logger = logging.getLogger("webmail.exports")
CHUNK_MESSAGES = 200
CHUNK_BYTES = 32 * 1024 * 1024  # a chunk ends after the message that passes this
RUN_LOCK_SECONDS = 60
QUEUED_SECONDS = 600
JOB_TIMEOUT_SECONDS = 6 * 3600
MAX_MESSAGES = 5_000_000
MAX_EXPORTS_PER_USER = 5  # kept or under way: each can be as large as the mailbox


def download_path(job: ExportJob) -> str:
    return f"/settings/storage/exports/{job.id}"


def files_of(settings: Settings, login: str) -> ExportFiles:
    return ExportFiles.of(settings.export_dir, login, settings.imap_host)


def check_credentials(settings: Settings, db: sessionmaker[Session], login: str) -> None:
    """NoBackgroundCredentialError unless the worker can log in as ``login``."""
    with db.begin() as session:
        background_credentials(settings, UserRepository(session).get_or_create(login, settings.imap_host))


def start(
    settings: Settings, files: ExportFiles, folder: str, kind: ExportKind, query: str, selection: str
) -> ExportJob:
    """A new background export of ``folder`` (the hits of ``query``, or the UIDs ``selection``),
    queued for the worker (blocking: from the web, in a thread)."""
    if len(files.jobs()) >= MAX_EXPORTS_PER_USER:
        raise LimitReachedError(
            f"You keep {MAX_EXPORTS_PER_USER} exports already: download and delete one under Free up space first."
        )
    name = folder.rsplit("/", 1)[-1] or "mail"
    label = " selection" if selection else " search" if query else ""
    job = files.create(folder, kind, f"{name}{label}.{kind}", query, selection)
    with create_sync_redis(settings, socket_connect_timeout=2, socket_timeout=5) as redis:
        enqueue(settings, redis, job)
    return job


def enqueue(settings: Settings, redis: Redis, job: ExportJob) -> bool:
    """Queue a run of ``job`` unless one is queued already."""
    keys = Keys(settings.redis_prefix)
    if not redis.set(keys.export_queued(job.id), "1", nx=True, ex=QUEUED_SECONDS):
        return False
    queue = Queue(keys.jobs_queue(), connection=redis)
    queue.enqueue(run_job, job.owner, job.id, job_timeout=JOB_TIMEOUT_SECONDS, result_ttl=0, failure_ttl=3600)
    return True


def tend(settings: Settings, redis: Redis) -> int:
    """The worker's housekeeping: delete expired exports, queue again those whose run died.
    How many were queued."""
    sweep(settings.export_dir, timedelta(hours=settings.export_retention_hours))
    keys = Keys(settings.redis_prefix)
    queued = 0
    for _, job in every_job(settings.export_dir):
        if not job.done and not redis.exists(keys.export_lock(job.id)):
            queued += enqueue(settings, redis, job)
    return queued


# Only the run holding the lock (its token as the value) extends or deletes it.
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LockLostError(Exception):
    """Raised inside a run whose lock lapsed (it stalled longer than RUN_LOCK_SECONDS): it stops,
    whatever it wrote after its last checkpoint is cut off by the run that goes on."""


@dataclass
class Run:
    """One run of one export: its files, the lock it holds, how it tells the user."""

    settings: Settings
    redis: Redis
    files: ExportFiles
    export_id: str
    max_chunks: int | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    renewed: float = 0.0

    @property
    def lock(self) -> str:
        return Keys(self.settings.redis_prefix).export_lock(self.export_id)

    def renew(self) -> None:
        """Keep the lock while writing; LockLostError if it lapsed and another run took it."""
        now = time.monotonic()
        if now - self.renewed >= RUN_LOCK_SECONDS / 4:
            if not self.redis.eval(RENEW, 1, self.lock, self.token, RUN_LOCK_SECONDS * 1000):
                raise LockLostError()
            self.renewed = now

    def release(self) -> None:
        self.redis.eval(RELEASE, 1, self.lock, self.token)

    def tell(self, job: ExportJob) -> None:
        state: ExportState = (
            "ready" if job.state == "ready" else "failed" if job.state == "failed" else "running"
        )
        event = ExportProgress(
            job.id, job.position, job.total, state, download_path(job) if state == "ready" else ""
        )
        publish(self.redis, Keys(self.settings.redis_prefix), job.owner, event)

    async def go(self, store: MailStore, job: ExportJob) -> ExportJob:
        if not job.uids and not job.total:
            selection = parse_uid_set(job.selection, max_ranges=MAX_MESSAGES) if job.selection else None
            criteria = parse_search(job.query[:1000]).criteria if job.query else None
            uidvalidity, uids = await store.export_plan(job.folder, criteria, selection, MAX_MESSAGES)
            job = self.files.update(
                job, state="running", uidvalidity=uidvalidity, uids=str(UIDSet.of(uids)), total=len(uids)
            )
        elif await store.uidvalidity(job.folder) != job.uidvalidity:
            raise UIDValidityChangedError(
                "The folder was reset on the server meanwhile (its messages have new numbers); "
                "start the export again."
            )
        uids = parse_uid_set(job.uids).expand(MAX_MESSAGES) if job.uids else []
        # Blocking file writes are fine here: this event loop is the work-horse's, for this run only.
        with open(self.files.part(job.id), "r+b") as out:  # noqa: ASYNC230
            out.truncate(job.offset)  # what a dead run wrote after its last checkpoint
            out.seek(job.offset)
            writer = (
                MboxAppender(out)
                if job.kind == "mbox"
                else ZipAppender(out, job.offset, self.files.read_directory(job))
            )
            chunks = 0
            try:
                while job.position < len(uids):
                    if not self.files.manifest(job.id).exists():  # the user deleted it meanwhile
                        writer.abandon()
                        return job
                    if self.max_chunks is not None and chunks >= self.max_chunks:
                        writer.abandon()
                        return job  # left for a later run
                    job = await self._chunk(store, job, uids, writer, out)
                    chunks += 1
            except BaseException:
                writer.abandon()  # the next run goes on from the last checkpoint
                raise
            writer.finish()
            _sync(out)
            size = out.tell()
        os.replace(self.files.part(job.id), self.files.result(job))
        self.files.directory(job.id).unlink(missing_ok=True)
        job = self.files.update(job, state="ready", finished=datetime.now(UTC).isoformat(), offset=size)
        logger.info("export %s ready: %d messages", job.id, job.written)
        return job

    async def _chunk(
        self,
        store: MailStore,
        job: ExportJob,
        uids: list[int],
        writer: MboxAppender | ZipAppender,
        out: BinaryIO,
    ) -> ExportJob:
        batch = uids[job.position : job.position + CHUNK_MESSAGES]
        start = out.tell()
        written = 0
        last = job.position
        pieces = store.export(job.folder, batch)
        stream = writer.write(pieces)
        try:
            async for uid in stream:
                written += 1
                last = job.position + batch.index(uid) + 1
                self.renew()
                if out.tell() - start >= CHUNK_BYTES:
                    break
            else:
                last = job.position + len(batch)  # those left out were expunged meanwhile
        finally:
            await stream.aclose()
            await pieces.aclose()
        _sync(out)
        entries = writer.new_entries()
        directory = self.files.add_directory(job, entries) if entries else job.directory_offset
        job = self.files.update(
            job, state="running", position=last, written=job.written + written, offset=out.tell(),
            directory_offset=directory,
        )  # fmt: skip
        self.tell(job)
        return job


def _sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def run_export(
    settings: Settings,
    db: sessionmaker[Session],
    owner: str,
    export_id: str,
    *,
    max_chunks: int | None = None,
) -> ExportJob | None:
    """Run (or go on with) one export as its owner; ``max_chunks`` stops it early, resumable."""
    files = files_of(settings, owner)
    job = files.load(export_id)
    if job is None or job.done:
        return job
    keys = Keys(settings.redis_prefix)
    with create_sync_redis(settings) as redis:
        redis.delete(keys.export_queued(job.id))
        run = Run(settings, redis, files, job.id, max_chunks)
        if not redis.set(run.lock, run.token, nx=True, ex=RUN_LOCK_SECONDS):
            return job  # another worker writes it
        run.renewed = time.monotonic()
        try:
            with db.begin() as session:
                user = UserRepository(session).get_or_create(owner, settings.imap_host)
                session.expunge(user)
            credentials = background_credentials(settings, user)

            async def go(current: ExportJob) -> ExportJob:
                async with background_store(settings, credentials) as store:
                    return await run.go(store, current)

            job = anyio.run(go, job)
        except (UnavailableError, MailboxBusyError) as exc:  # the scheduler queues it again
            logger.warning("export %s waits: %s", job.id, exc.user_message)
        except LockLostError:
            logger.warning("export %s: another run took over", job.id)
            return files.load(job.id)
        except WebmailError as exc:
            latest = files.load(job.id) or job  # with what the run wrote before it stopped
            job = files.update(
                latest, state="failed", error=exc.user_message, finished=datetime.now(UTC).isoformat()
            )
            logger.warning("export %s stopped: %s", job.id, exc.user_message)
        finally:
            run.release()
        if not files.manifest(job.id).exists():
            files.delete(job)  # deleted while it ran: nothing of it stays
            return None
        if job.done:
            run.tell(job)
        return job


def run_job(owner: str, export_id: str) -> int:
    """The rq job (in the worker's work-horse): how many messages the file holds so far."""
    from webmail.config import load_settings
    from webmail.db.session import create_db_engine, create_sessionmaker

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    try:
        job = run_export(settings, create_sessionmaker(engine), owner, export_id)
        return job.written if job is not None else 0
    finally:
        engine.dispose()
