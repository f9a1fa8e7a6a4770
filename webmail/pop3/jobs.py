"""Background POP3 fetches: the rq job, the scheduler tick and "Fetch now".

An account is fetched by at most one process in the cluster at a time: the rq job id
``<prefix>-pop3-<id>`` is unique in Redis, and the fetch itself holds the Redis lock
``wm:pop3:lock:<id>``, renewed per message, so a second worker (or a job run by hand) backs off.
A failing account is retried later and later (its interval doubled per failure, up to six
hours); a run that stopped at the per-run limits continues at the next scheduler tick.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy.orm import Session, sessionmaker

from webmail.auth.background import NoBackgroundCredentialError, background_credentials
from webmail.config import Settings
from webmail.db.models import POP3Account, POP3Run, User
from webmail.db.repos import POP3AccountRepository
from webmail.events import POP3Progress, publish
from webmail.imap.background import background_connection
from webmail.imap.cap import SyncLease
from webmail.imap.errors import AuthFailedError, IMAPError, MailboxBusyError, QuotaExceededError
from webmail.imap.importer import FolderTarget
from webmail.pop3.client import POP3Server
from webmail.pop3.destination import Destinations
from webmail.pop3.errors import (
    POP3AuthError,
    POP3ConnectError,
    POP3DestinationError,
    POP3Error,
    POP3TimeoutError,
    POP3TLSError,
)
from webmail.pop3.fetcher import FetchOptions, FetchResult, fetch_account
from webmail.pop3.state import DatabaseState
from webmail.pop3.vault import open_password
from webmail.redis import Keys, create_sync_redis

logger = logging.getLogger(__name__)

LOCK_SECONDS = 60
SCHEDULER_SECONDS = 30
MAX_BACKOFF = timedelta(hours=6)
PROGRESS_EVERY_SECONDS = 0.5

# What the user reads next to a failed run, by kind of failure.
HINTS = {
    "auth": "The server said the user name or password is wrong: update the password on this page.",
    "connect": "Check the server name and port, or try again later.",
    "tls": "Check the security setting and port (POP3S is usually 995, STARTTLS 110).",
    "timeout": "The server may be overloaded; the next try comes later.",
    "consent": "Agree to keeping your mailbox password on this page, or ask the operator.",
    "imap_auth": "Your mailbox no longer accepts the stored password: sign in again to refresh it.",
    "busy": "Your mailbox had no free connection; the next try comes later.",
    "quota": "The remaining messages stay on the POP3 server: free up space and the next fetch goes on.",
}


@dataclass
class Outcome:
    outcome: str  # ok, more, error, busy, disabled, gone
    imported: int = 0
    message: str = ""
    kind: str = ""
    totals: FetchResult = field(default_factory=FetchResult)


@dataclass
class FetchContext:
    settings: Settings
    db: sessionmaker[Session]
    redis: Redis
    keys: Keys = field(init=False)

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.redis_prefix)


def error_kind(exc: Exception) -> str:
    for kind, types in (
        ("auth", POP3AuthError),
        ("destination", POP3DestinationError),
        ("tls", POP3TLSError),
        ("timeout", POP3TimeoutError),
        ("connect", POP3ConnectError),
        ("pop3", POP3Error),
        ("consent", NoBackgroundCredentialError),
        ("imap_auth", AuthFailedError),
        ("busy", MailboxBusyError),
        ("quota", QuotaExceededError),
    ):
        if isinstance(exc, types):
            return kind
    return "imap"


def backoff(interval_minutes: int, failures: int) -> timedelta:
    """The wait before the next try after ``failures`` failed runs in a row."""
    wait: timedelta = timedelta(minutes=interval_minutes) * 2 ** min(max(failures - 1, 0), 16)
    return min(wait, MAX_BACKOFF)


# ---------------------------------------------------------------------------- the fetch


def fetch(context: FetchContext, account_id: int) -> Outcome:
    """Fetch one account now, unless another process is at it; records status and history."""
    lock = context.keys.pop3_lock(account_id)
    token = secrets.token_hex(8)
    if not context.redis.set(lock, token, nx=True, ex=LOCK_SECONDS):
        return Outcome("busy", message="A fetch of this account is already running.")
    login: list[str] = []
    try:
        return _fetch_locked(context, account_id, lock, login)
    finally:
        if context.redis.get(lock) == token.encode():
            context.redis.delete(lock)
        context.redis.delete(context.keys.pop3_progress(account_id))
        if login:
            # After the lock is gone: "not running".
            publish(context.redis, context.keys, login[0], POP3Progress(account_id, "done"))


def _fetch_locked(context: FetchContext, account_id: int, lock: str, login: list[str]) -> Outcome:
    settings = context.settings
    with context.db() as session:
        account = session.get(POP3Account, account_id)
        if account is None:
            return Outcome("gone")
        user = session.get(User, account.user_id)
        assert user is not None
        session.expunge_all()
    login.append(user.login)
    if not settings.pop3_enabled or not account.enabled:
        return Outcome("disabled")
    started = datetime.now(UTC)
    publisher = _Progress(context, account_id, user.login, lock)
    totals = FetchResult()
    try:
        credentials = background_credentials(settings, user)
        server = POP3Server(
            account.host,
            account.port,
            account.security,  # type: ignore[arg-type]
            account.username,
            open_password(settings, account),
            timeout=settings.pop3_timeout_seconds,
            destinations=Destinations.of(settings),
        )
        with background_connection(settings, context.redis, credentials, cap_user=user.login) as (
            conn,
            lease,
        ):
            publisher.lease = lease
            target = FolderTarget(conn.client, account.folder)
            deadline = time.monotonic() + settings.pop3_job_timeout_seconds / 2
            while True:
                publisher.offset = totals.imported + totals.already_there
                result = fetch_account(
                    server,
                    _options(settings, account),
                    DatabaseState(context.db, account_id),
                    target,
                    progress=publisher,
                )
                _add(totals, result)
                if not result.more or time.monotonic() > deadline:
                    break
    except (POP3Error, IMAPError, NoBackgroundCredentialError) as exc:
        kind = error_kind(exc)
        _record(context, account_id, started, totals, error=(kind, exc.user_message))
        logger.info("pop3 account %s failed: %s", account_id, kind)
        return Outcome("error", totals.imported, exc.user_message, kind, totals)
    _record(context, account_id, started, totals)
    return Outcome("more" if totals.more else "ok", totals.imported, totals=totals)


def _options(settings: Settings, account: POP3Account) -> FetchOptions:
    limit_mb = min(account.max_size_mb or settings.pop3_max_message_mb, settings.pop3_max_message_mb)
    return FetchOptions(
        leave_on_server=account.leave_on_server,
        delete_after_days=account.delete_after_days if account.leave_on_server else None,
        only_new=account.only_new,
        mark_read=account.mark_read,
        max_size_bytes=limit_mb * 1024 * 1024,
        max_messages=settings.pop3_batch_messages,
    )


def _add(totals: FetchResult, result: FetchResult) -> None:
    totals.on_server = result.on_server
    totals.imported += result.imported
    totals.already_there += result.already_there
    totals.skipped_too_large += result.skipped_too_large
    totals.deleted += result.deleted
    totals.bytes += result.bytes
    totals.more = result.more
    totals.baseline = totals.baseline or result.baseline


class _Progress:
    """Called per message: keeps the lock and lease alive and tells the user's browsers."""

    def __init__(self, context: FetchContext, account_id: int, login: str, lock: str) -> None:
        self.context = context
        self.account_id = account_id
        self.login = login
        self.lock = lock
        self.lease: SyncLease | None = None
        self.offset = 0
        self._published = 0.0

    def __call__(self, position: int, total: int) -> None:
        redis = self.context.redis
        redis.expire(self.lock, LOCK_SECONDS)
        if self.lease is not None:
            self.lease.renew()
        done, total = self.offset + position - 1, self.offset + total
        redis.hset(self.context.keys.pop3_progress(self.account_id), mapping={"done": done, "total": total})
        redis.expire(self.context.keys.pop3_progress(self.account_id), LOCK_SECONDS)
        if time.monotonic() - self._published >= PROGRESS_EVERY_SECONDS:
            self._published = time.monotonic()
            publish(redis, self.context.keys, self.login, POP3Progress(self.account_id, "running"))


def _record(
    context: FetchContext,
    account_id: int,
    started: datetime,
    totals: FetchResult,
    *,
    error: tuple[str, str] | None = None,
) -> None:
    now = datetime.now(UTC)
    outcome = "error" if error else "more" if totals.more else "ok"
    with context.db.begin() as session:
        account = session.get(POP3Account, account_id)
        if account is None:
            return
        account.last_run_at = now
        account.last_outcome = outcome
        account.last_imported = totals.imported
        account.total_imported = (account.total_imported or 0) + totals.imported
        if error:
            kind, words = error
            account.failures = (account.failures or 0) + 1
            hint = HINTS.get(kind, "")
            account.last_error = f"{words} {hint}".strip()[:500]
            account.next_run_at = now + backoff(account.interval_minutes, account.failures)
        else:
            account.failures = 0
            account.last_error = None
            account.next_run_at = now if totals.more else now + timedelta(minutes=account.interval_minutes)
        POP3AccountRepository(session).add_run(
            POP3Run(
                account_id=account_id,
                started_at=started,
                finished_at=now,
                outcome=outcome,
                imported=totals.imported,
                already_there=totals.already_there,
                skipped=totals.skipped_too_large,
                deleted=totals.deleted,
                bytes=totals.bytes,
                error=account.last_error,
            )
        )
    metrics = context.keys.pop3_metrics()
    pipe = context.redis.pipeline()
    pipe.hincrby(metrics, f"runs:{outcome}", 1)
    pipe.hincrby(metrics, "messages", totals.imported)
    pipe.hincrby(metrics, "bytes", totals.bytes)
    pipe.hincrbyfloat(metrics, "seconds", (now - started).total_seconds())
    if error:
        pipe.hincrby(metrics, f"errors:{error[0]}", 1)
    pipe.execute()


# ---------------------------------------------------------------------------- the queue


def queue_keys(settings: Settings) -> tuple[str, str, str]:
    """The Redis keys of the job queue: waiting jobs (a list), running and failed ones (sorted sets)."""
    name = Keys(settings.redis_prefix).jobs_queue()
    return (
        Queue.redis_queue_namespace_prefix + name,
        StartedJobRegistry.key_template.format(name),
        FailedJobRegistry.key_template.format(name),
    )


def job_queue(settings: Settings, connection: Redis) -> Queue:
    return Queue(Keys(settings.redis_prefix).jobs_queue(), connection=connection)


WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)  # not started yet


def enqueue_fetch(settings: Settings, queue: Queue, account_id: int) -> bool:
    """Queue a fetch of one account; False if one is queued or running already."""
    job_id = Keys(settings.redis_prefix).pop3_job_id(account_id)
    for _ in range(3):
        try:
            queue.enqueue(
                run_job,
                account_id,
                job_id=job_id,
                unique=True,
                job_timeout=settings.pop3_job_timeout_seconds,
                result_ttl=0,
                failure_ttl=3600,
            )
            return True
        except DuplicateJobError:
            try:
                job = Job.fetch(job_id, connection=queue.connection)
                status = job.get_status(refresh=True)
            except (NoSuchJobError, InvalidJobOperation):
                continue  # finished in between (its hash goes at once: result_ttl=0)
            if status in (*WAITING, JobStatus.STARTED):
                return False
            job.delete()  # a finished, failed or stopped run's leftover
    return False


def fetch_pending(settings: Settings, connection: Redis, account_id: int) -> bool:
    """True from "Fetch now" until the fetch has ended: its job waits in the queue, or the fetch
    holds the account's lock (the "done" event is published once the lock is gone)."""
    keys = Keys(settings.redis_prefix)
    if connection.exists(keys.pop3_lock(account_id)):
        return True
    try:
        job = Job.fetch(keys.pop3_job_id(account_id), connection=connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=True) in WAITING


def enqueue_due(settings: Settings, db: sessionmaker[Session], queue: Queue) -> int:
    """The scheduler tick: queue every enabled account whose time has come."""
    if not settings.pop3_enabled:
        return 0
    with db() as session:
        due = POP3AccountRepository(session).due(datetime.now(UTC))
    return sum(enqueue_fetch(settings, queue, account_id) for account_id in due)


def run_job(account_id: int) -> str:
    """The rq job (runs in the worker's forked work-horse)."""
    from webmail.config import load_settings
    from webmail.db.session import create_db_engine, create_sessionmaker

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    redis = create_sync_redis(settings)
    try:
        outcome = fetch(FetchContext(settings, create_sessionmaker(engine), redis), account_id)
    finally:
        redis.close()
        engine.dispose()
    return outcome.outcome
