"""FilterService: what the Filters and Vacation pages do, over one ManageSieve connection each.

The page edits one script: the active one, or the script named ``webmail`` when none is
active. Every change reads it, changes the model and writes it back in the same connection;
a change made from a page older than the script (its ``version``) is refused, and a script
this app did not write is only replaced when the user asks for it, keeping the old one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import anyio.to_thread
from redis.asyncio import Redis

from webmail.config import Settings
from webmail.redis import Keys
from webmail.sieve.client import Capabilities, ManageSieveClient, ScriptInfo
from webmail.sieve.errors import ForeignScriptError, SieveError
from webmail.sieve.rules import FilterSet
from webmail.sieve.vacation import Vacation
from webmail.tls import client_context

SCRIPT_NAME = "webmail"
NOTICE_SECONDS = 60  # how long the mail screens trust their copy of the vacation state
NOTICE_UNAVAILABLE_SECONDS = 300
NOTICE_TIMEOUT = 3.0  # the banner never holds a mail screen up for long
T = TypeVar("T")


class StaleFiltersError(SieveError):
    """Raised when a change comes from a page made before the script last changed."""

    status_code = 409
    user_message = (
        "Your filters were changed meanwhile (in another window or program). "
        "They are shown as they are now; make your change again."
    )


@dataclass(frozen=True)
class SieveAccount:
    username: str
    password: str


@dataclass(frozen=True)
class FilterState:
    """The script the page edits, and what the server can do."""

    capabilities: Capabilities
    scripts: tuple[ScriptInfo, ...]
    name: str
    script: str  # "" when there is none yet
    filters: FilterSet | None  # None: not written here, shown raw and read-only
    active: bool
    warnings: str = ""  # from the last write

    @property
    def version(self) -> str:
        return hashlib.sha256(self.script.encode()).hexdigest()[:16]

    @property
    def editable(self) -> bool:
        return self.filters is not None

    @property
    def current(self) -> FilterSet:
        return self.filters if self.filters is not None else FilterSet()

    @property
    def vacation(self) -> Vacation | None:
        """The vacation reply that runs: on, in the active script."""
        vacation = self.current.vacation
        return vacation if self.active and self.editable and vacation.enabled else None


@dataclass
class FilterService:
    settings: Settings
    redis: Redis
    keys: Keys = field(init=False)

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.redis_prefix)

    async def state(self, account: SieveAccount) -> FilterState:
        """The filters as the server has them."""
        return await self._run(account, _read_state)

    async def update(
        self,
        account: SieveAccount,
        change: Callable[[FilterSet], FilterSet],
        *,
        version: str | None = None,
        replace_foreign: bool = False,
    ) -> FilterState:
        """Apply ``change`` to the filters and store them, active. ``version`` (from the page)
        refuses the change when the script changed since; ``replace_foreign`` replaces a
        script written elsewhere, which is kept under another name, inactive."""

        def work(client: ManageSieveClient) -> FilterState:
            state = _unchanged_state(client, version)
            name = state.name
            if state.filters is None:
                if not replace_foreign:
                    raise ForeignScriptError()
                if name == SCRIPT_NAME:
                    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
                    client.rename_script(SCRIPT_NAME, f"{SCRIPT_NAME}-before-{stamp}")
                name = SCRIPT_NAME
            filters = change(state.current)
            filters.check(client.capabilities.max_redirects)
            warnings = client.put_script(name, filters.render())
            if not state.active or name != state.name:
                client.set_active(name)
            return _read_state(client, warnings)

        return await self._write(account, work)

    async def check_script(self, account: SieveAccount, script: str) -> str:
        """CHECKSCRIPT: the server's warnings, or ScriptRejectedError with its errors."""
        return await self._run(account, lambda client: client.check_script(script))

    async def save_script(self, account: SieveAccount, script: str, *, version: str | None) -> FilterState:
        """Store hand-written Sieve as the edited script (the server checks it first)."""

        def work(client: ManageSieveClient) -> FilterState:
            state = _unchanged_state(client, version)
            warnings = client.put_script(state.name, script)
            if not state.active:
                client.set_active(state.name)
            return _read_state(client, warnings)

        return await self._write(account, work)

    async def activate(self, account: SieveAccount, name: str) -> None:
        """Make ``name`` the active script ("" for none)."""
        await self._write(account, lambda client: client.set_active(name))

    async def delete(self, account: SieveAccount, name: str) -> None:
        """Delete an inactive script (the server refuses to delete the active one)."""
        await self._run(account, lambda client: client.delete_script(name))

    async def vacation_notice(self, account: SieveAccount) -> Vacation | None:
        """The running vacation reply for the mail screens' banner, from a copy kept for a
        minute, so a page load seldom opens a ManageSieve connection (and never waits long)."""
        key = self.keys.vacation_state(account.username)
        cached = await self.redis.get(key)
        if cached is not None:
            data = json.loads(cached)
            return Vacation.from_json(data) if data else None
        try:
            vacation = (await self._run(account, _read_state, socket_timeout=NOTICE_TIMEOUT)).vacation
            seconds = NOTICE_SECONDS
        except SieveError:
            vacation, seconds = None, NOTICE_UNAVAILABLE_SECONDS
        await self.redis.set(key, json.dumps(vacation.to_json() if vacation else None), ex=seconds)
        return vacation

    async def forget_notice(self, username: str) -> None:
        await self.redis.delete(self.keys.vacation_state(username))

    async def _write(self, account: SieveAccount, work: Callable[[ManageSieveClient], T]) -> T:
        """``_run`` for a change to the scripts: the banner's copy of the vacation state goes after it."""
        result = await self._run(account, work)
        await self.forget_notice(account.username)
        return result

    async def _run(
        self,
        account: SieveAccount,
        work: Callable[[ManageSieveClient], T],
        *,
        socket_timeout: float | None = None,
    ) -> T:
        def session() -> T:
            with self._connect(account, socket_timeout or self.settings.imap_timeout_seconds) as client:
                return work(client)

        return await anyio.to_thread.run_sync(session)

    def _connect(self, account: SieveAccount, timeout: float) -> ManageSieveClient:
        settings = self.settings
        client = ManageSieveClient.connect(
            settings.managesieve_host,
            settings.sieve_port,
            security=settings.sieve_security,
            timeout=timeout,
            ssl_context=client_context(settings.imap_verify_tls),
        )
        try:
            client.authenticate(account.username, account.password)
        except BaseException:
            client.logout()
            raise
        return client


def _unchanged_state(client: ManageSieveClient, version: str | None) -> FilterState:
    """The state, or StaleFiltersError when the page's ``version`` is older than the script."""
    state = _read_state(client)
    if version is not None and version != state.version:
        raise StaleFiltersError()
    return state


def _read_state(client: ManageSieveClient, warnings: str = "") -> FilterState:
    scripts = tuple(client.list_scripts())
    active = next((script for script in scripts if script.active), None)
    name = active.name if active is not None else SCRIPT_NAME
    text = client.get_script(name) if any(script.name == name for script in scripts) else ""
    filters = FilterSet.parse(text) if text.strip() else FilterSet()
    return FilterState(client.capabilities, scripts, name, text, filters, active is not None, warnings)
