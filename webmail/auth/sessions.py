"""Server-side sessions: an opaque cookie pointing at a Redis hash with idle and absolute expiry."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from webmail.auth.crypto import (
    DecryptionError,
    b64decode,
    b64encode,
    decrypt_password,
    encrypt_password,
    new_cookie_key,
)
from webmail.config import Settings
from webmail.events import SessionExpired, publish_async
from webmail.redis import Keys

# Only a live session gets a flash message: HSET alone would revive a hash that expired or was
# destroyed meanwhile, as a session without a user and without expiry.
_PUT_FLASH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'flash', ARGV[1])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Session:
    sid: str
    user: str
    password: str
    csrf_token: str
    created: float
    client_ip: str | None


@dataclass(frozen=True)
class SessionInfo:
    """What an administrator sees of a session (``webmail sessions list``): never its secrets."""

    sid: str
    user: str
    created: float
    last_seen: float
    client_ip: str | None


class SessionStore:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.redis_prefix)

    async def create(self, user: str, password: str, client_ip: str | None) -> tuple[str, Session]:
        """Start a new session (always a new id: no fixation); returns the cookie value too."""
        sid = secrets.token_urlsafe(32)
        cookie_key = new_cookie_key()
        secret = self.settings.secret_key.get_secret_value()
        blob = encrypt_password(password, cookie_key=cookie_key, server_secret=secret, sid=sid, user=user)
        session = Session(sid, user, password, secrets.token_urlsafe(32), time.time(), client_ip)
        key = self.keys.session(sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "user": user,
                    "pw": blob,
                    "csrf": session.csrf_token,
                    "created": str(session.created),
                    "ip": client_ip or "",
                },
            )
            pipe.expire(key, self.settings.session_idle_seconds)
            await pipe.execute()
        return f"{sid}.{b64encode(cookie_key)}", session

    async def load(self, cookie_value: str | None) -> Session | None:
        """The live session for a cookie, refreshing its idle timer; None if gone or forged."""
        if not cookie_value or "." not in cookie_value:
            return None
        sid, _, encoded_key = cookie_value.partition(".")
        key = self.keys.session(sid)
        # One round trip: read it and refresh its idle timer (a session past its idle time is
        # gone already; a missing key is not created by EXPIRE). Near its end of life it is cut
        # below the idle time again just after.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(key)
            pipe.expire(key, self.settings.session_idle_seconds)
            fetched, _ = await pipe.execute()
        data = cast(dict[bytes, bytes], fetched)
        if not data:
            return None
        created = float(data[b"created"])
        remaining = created + self.settings.session_max_seconds - time.time()
        user = data[b"user"].decode()
        if remaining <= 0:
            await self.destroy(sid, user)
            return None
        try:
            password = decrypt_password(
                data[b"pw"],
                cookie_key=b64decode(encoded_key),
                server_secret=self.settings.secret_key.get_secret_value(),
                sid=sid,
                user=user,
            )
        except (DecryptionError, ValueError):
            return None
        if remaining < self.settings.session_idle_seconds:
            await self.redis.expire(key, int(remaining) or 1)
        ip = data.get(b"ip", b"").decode() or None
        return Session(sid, user, password, data[b"csrf"].decode(), created, ip)

    async def destroy(self, sid: str, user: str) -> None:
        """End the session; the user's open pages on it learn at once (``SessionExpired``)."""
        await self.redis.delete(self.keys.session(sid))
        await publish_async(self.redis, self.keys, user, SessionExpired())

    async def find(self, user: str | None = None) -> list[SessionInfo]:
        """The live sessions, of ``user`` only if given, oldest first."""
        now = time.time()
        found = []
        async for key in self.redis.scan_iter(match=_glob_escape(self.keys.session("")) + "*", count=500):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hmget(key, "user", "created", "ip")
                pipe.ttl(key)
                (owner, created, ip), ttl = await pipe.execute()
            if owner is None or created is None or (user is not None and owner.decode() != user):
                continue
            idle = max(self.settings.session_idle_seconds - max(ttl, 0), 0)  # each request renews the TTL
            sid = key.decode().removeprefix(self.keys.session(""))
            found.append(SessionInfo(sid, owner.decode(), float(created), now - idle, ip.decode() or None))
        return sorted(found, key=lambda info: info.created)

    async def revoke(self, user: str) -> int:
        """End every session of ``user``, everywhere: their pages learn at once, and every worker
        closes the user's IMAP connections. Returns how many sessions there were."""
        sessions = await self.find(user)
        for info in sessions:
            await self.destroy(info.sid, user)
        await self.redis.publish(self.keys.sessions_revoked_channel(), user)
        return len(sessions)

    async def put_flash(self, sid: str, payload: str) -> None:
        """Keep a message for the session's next page, replacing one not shown yet."""
        await self.redis.eval(_PUT_FLASH, 1, self.keys.session(sid), payload)

    async def pop_flash(self, sid: str) -> str | None:
        """The waiting message, removed as it is read: shown once, by whichever worker asks first."""
        key = self.keys.session(sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, "flash")
            pipe.hdel(key, "flash")
            payload, _ = await pipe.execute()
        return payload.decode() if isinstance(payload, bytes) else None


def _glob_escape(text: str) -> str:
    """``text`` matched literally in a SCAN pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
