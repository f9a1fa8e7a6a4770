"""A user's external POP3 accounts: what the settings pages ask for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
import anyio.to_thread
from redis import Redis
from sqlalchemy.orm import Session, sessionmaker

from webmail.auth.background import seal_password as seal_imap_password
from webmail.config import Settings
from webmail.db.models import POP3Account, POP3Run, User
from webmail.db.repos import POP3AccountRepository, UserRepository
from webmail.errors import LimitReachedError, WebmailError
from webmail.pop3.client import POP3Server, POP3Session
from webmail.pop3.destination import Destinations
from webmail.pop3.errors import POP3Error
from webmail.pop3.form import AccountForm
from webmail.pop3.jobs import enqueue_fetch, fetch_pending, job_queue
from webmail.pop3.vault import open_password, seal_password
from webmail.redis import Keys, create_sync_redis


class AccountNotFoundError(WebmailError):
    """Raised when an account id is not (or no longer) one of the user's."""

    status_code = 404
    user_message = "This POP3 account does not exist (deleted?)."


class TooManyAccountsError(LimitReachedError):
    """Raised when a new account would go past ``WEBMAIL_POP3_MAX_ACCOUNTS_PER_USER``."""

    user_message = "You have as many POP3 accounts as this server allows."


class POP3DisabledError(WebmailError):
    """Raised when POP3 fetching is switched off (``WEBMAIL_POP3_ENABLED=false``) and a user tries it."""

    status_code = 403
    user_message = "Fetching mail from other accounts is switched off on this server."


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


@dataclass(frozen=True)
class TestResult:
    ok: bool
    error: str = ""
    messages: int = 0
    size: int = 0


class ExternalAccounts:
    def __init__(self, settings: Settings, db: sessionmaker[Session]) -> None:
        self.settings = settings
        self.db = db
        self.keys = Keys(settings.redis_prefix)
        # "Test connection" probes: their own threads, so a silent server cannot hold the ones
        # page requests need; admitted per user and per worker before a thread is asked for.
        self._test_threads = anyio.CapacityLimiter(settings.pop3_tests_per_worker)
        self._testing: Counter[str] = Counter()

    def _redis(self) -> Redis:
        """A blocking Redis client for rq, opened per call in a worker thread and closed after."""
        return create_sync_redis(self.settings, socket_connect_timeout=2, socket_timeout=5)

    def _check_enabled(self) -> None:
        if not self.settings.pop3_enabled:
            raise POP3DisabledError()

    # ------------------------------------------------------------------ reading

    async def of_user(self, login: str) -> list[POP3Account]:
        def load() -> list[POP3Account]:
            with self.db() as session:
                user = UserRepository(session).get(login, self.settings.imap_host)
                return POP3AccountRepository(session).for_user(user.id) if user else []

        return await anyio.to_thread.run_sync(load)

    async def get(self, login: str, account_id: int) -> POP3Account:
        def load() -> POP3Account | None:
            with self.db() as session:
                user = UserRepository(session).get(login, self.settings.imap_host)
                return POP3AccountRepository(session).get(user.id, account_id) if user else None

        account = await anyio.to_thread.run_sync(load)
        if account is None:
            raise AccountNotFoundError()
        return account

    async def history(self, account_id: int) -> list[POP3Run]:
        def load() -> list[POP3Run]:
            with self.db() as session:
                return POP3AccountRepository(session).runs(account_id)

        return await anyio.to_thread.run_sync(load)

    async def has_consented(self, login: str) -> bool:
        def load() -> bool:
            with self.db() as session:
                user = UserRepository(session).get(login, self.settings.imap_host)
                return bool(user and user.imap_credential)

        return await anyio.to_thread.run_sync(load)

    async def progress(self, account_ids: list[int]) -> dict[int, Progress]:
        """The accounts being fetched right now, with how far they are."""

        def load() -> dict[int, Progress]:
            running = {}
            with self._redis() as redis:
                for account_id in account_ids:
                    if not redis.exists(self.keys.pop3_lock(account_id)):
                        continue
                    data = redis.hgetall(self.keys.pop3_progress(account_id))
                    running[account_id] = Progress(int(data.get(b"done", 0)), int(data.get(b"total", 0)))
            return running

        return await anyio.to_thread.run_sync(load)

    async def pending(self, account_ids: list[int]) -> set[int]:
        """The accounts with a fetch queued or running: "Fetching now" lasts as long as this."""

        def load() -> set[int]:
            with self._redis() as redis:
                return {
                    account_id
                    for account_id in account_ids
                    if fetch_pending(self.settings, redis, account_id)
                }

        return await anyio.to_thread.run_sync(load)

    # ------------------------------------------------------------------ changing

    async def create(self, login: str, imap_password: str, form: AccountForm) -> POP3Account:
        self._check_enabled()

        def create() -> POP3Account:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.settings.imap_host)
                repository = POP3AccountRepository(session)
                if repository.count(user.id) >= self.settings.pop3_max_accounts_per_user:
                    raise TooManyAccountsError()
                account = POP3Account(user_id=user.id, password_encrypted=b"", has_run=False)
                form.apply(account)
                session.add(account)
                session.flush()  # the id binds the sealed password to this row
                seal_password(self.settings, account, form.password)
                account.next_run_at = datetime.now(UTC)
                self._store_consent(user, imap_password, form.consent)
                return account

        return await anyio.to_thread.run_sync(create)

    async def update(self, login: str, imap_password: str, account_id: int, form: AccountForm) -> POP3Account:
        def update() -> POP3Account:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.settings.imap_host)
                account = POP3AccountRepository(session).get(user.id, account_id)
                if account is None:
                    raise AccountNotFoundError()
                form.apply(account)
                if form.password:
                    seal_password(self.settings, account, form.password)
                account.failures = 0  # new settings deserve a prompt try
                account.next_run_at = datetime.now(UTC)
                self._store_consent(user, imap_password, form.consent)
                return account

        return await anyio.to_thread.run_sync(update)

    def _store_consent(self, user: User, imap_password: str, consent: bool) -> None:
        if self.settings.uses_master_user:
            user.imap_credential = None  # not needed: nothing of the user's is kept
        elif consent:
            user.imap_credential = seal_imap_password(self.settings, user, imap_password)
        else:
            user.imap_credential = None

    async def delete(self, login: str, account_id: int) -> None:
        def delete() -> None:
            with self.db.begin() as session:
                user = UserRepository(session).get(login, self.settings.imap_host)
                account = POP3AccountRepository(session).get(user.id, account_id) if user else None
                if account is None:
                    raise AccountNotFoundError()
                session.delete(account)
                session.flush()
                if user is not None and POP3AccountRepository(session).count(user.id) == 0:
                    user.imap_credential = None  # no account needs it any more

        await anyio.to_thread.run_sync(delete)

    async def fetch_now(self, login: str, account_id: int) -> bool:
        """Queue a fetch at once; False if one is queued or running already."""
        self._check_enabled()
        await self.get(login, account_id)

        def enqueue() -> bool:
            with self._redis() as redis:
                return enqueue_fetch(self.settings, job_queue(self.settings, redis), account_id)

        return await anyio.to_thread.run_sync(enqueue)

    # ------------------------------------------------------------------ trying

    async def test(self, login: str, form: AccountForm, stored: POP3Account | None = None) -> TestResult:
        """Log in with the form's values (the stored password if none was typed) and count;
        at most ``pop3_tests_per_user`` tests of ``login`` and ``pop3_tests_per_worker`` in all
        at once, each given ``pop3_test_timeout_seconds`` to connect and for every answer."""
        per_user, per_worker = self.settings.pop3_tests_per_user, self.settings.pop3_tests_per_worker
        if self._testing[login] >= per_user:
            return TestResult(
                False, error=f"You are already testing {per_user} connections; wait for them to finish."
            )
        if self._testing.total() >= per_worker:
            return TestResult(
                False, error="The server is testing many connections just now; try again in a moment."
            )
        self._testing[login] += 1
        try:
            return await self._test(form, stored)
        finally:
            self._testing[login] -= 1
            if self._testing[login] <= 0:
                del self._testing[login]

    async def _test(self, form: AccountForm, stored: POP3Account | None) -> TestResult:
        password = form.password or (open_password(self.settings, stored) if stored else "")
        server = POP3Server(
            form.host,
            form.port,
            form.security,  # type: ignore[arg-type]
            form.username,
            password,
            timeout=self.settings.pop3_test_timeout_seconds,
            destinations=Destinations.of(self.settings),
        )

        def attempt() -> TestResult:
            session = POP3Session(server)
            try:
                count, size = session.stat()
                session.quit()
            finally:
                session.close()
            return TestResult(True, messages=count, size=size)

        try:
            return await anyio.to_thread.run_sync(attempt, limiter=self._test_threads)
        except POP3Error as exc:
            return TestResult(False, error=exc.user_message)
