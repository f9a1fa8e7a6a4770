"""Signing in: rate limit, IMAP LOGIN, a new session, the user's row."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.auth.background import seal_password
from webmail.auth.devices import DeviceTokens
from webmail.auth.errors import UnsendableCredentialsError
from webmail.auth.ratelimit import LoginRateLimiter
from webmail.auth.sessions import Session, SessionStore
from webmail.auth.usernames import canonical_username
from webmail.config import Settings, has_control_character
from webmail.db.repos import UserRepository
from webmail.imap.cache import PageCache
from webmail.imap.errors import AuthFailedError
from webmail.imap.pool import IMAPPool
from webmail.imap.types import Credentials


@dataclass(frozen=True)
class SignedIn:
    cookie: str  # the session cookie's value
    session: Session
    device: str  # the device cookie's value: this browser signed in here


@dataclass
class LoginService:
    settings: Settings
    sessions: SessionStore
    limiter: LoginRateLimiter
    pool: IMAPPool
    db: sessionmaker[DBSession]
    pages: PageCache | None = None

    async def sign_in(
        self, username: str, password: str, client_ip: str, device: str | None = None
    ) -> SignedIn:
        """Check the password against the IMAP server and start a session.

        The server is asked to LOGIN with the account's canonical name (``auth.usernames``),
        and the session, the pool, the caches and the live events are keyed by that name: what
        the server confirmed, not what was typed. ``device`` is the browser's device cookie, if
        any. Raises UnsendableCredentialsError, RateLimitedError, AuthFailedError or
        UnavailableError.
        """
        username = username.strip()
        if not username or not password:
            raise AuthFailedError()
        for field, value in (("username", username), ("password", password)):
            if has_control_character(value):
                raise UnsendableCredentialsError(field)
        devices = DeviceTokens(self.settings)
        identity = canonical_username(username, self.settings)
        attempt = await self.limiter.reserve(
            identity, client_ip, known_device=devices.recognises(device, identity)
        )
        try:
            await anyio.sleep(attempt.delay)
            await self.pool.login(Credentials(identity, password, client_ip))
        except AuthFailedError:
            raise  # the reserved attempt stays counted as a failure
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.limiter.cancel(attempt)
            raise
        await self.limiter.succeeded(attempt)
        cookie, session = await self.sessions.create(identity, password, client_ip)
        await anyio.to_thread.run_sync(self._record_login, identity, password)
        return SignedIn(cookie, session, devices.issue(identity))

    async def sign_out(self, session: Session) -> None:
        await self.sessions.destroy(session.sid, session.user)
        await self.pool.close_user(session.user)
        # The other workers (and hosts) close theirs too.
        await self.sessions.redis.publish(self.sessions.keys.close_connections_channel(), session.user)
        if self.pages is not None:
            await self.pages.forget_user(session.user)

    def _record_login(self, identity: str, password: str) -> None:
        with self.db.begin() as db:
            user = UserRepository(db).record_login(identity, self.settings.imap_host)
            if user.imap_credential is not None:
                # Consented earlier: keep background fetches working after a password change.
                user.imap_credential = seal_password(self.settings, user, password)
