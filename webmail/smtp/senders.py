"""The From addresses the submission server will take for a user: all of them, unless the
operator says it sends only as the login (``WEBMAIL_SMTP_SENDERS=login``) or it refused an
address before (a MAIL FROM answered 5xx; remembered for 90 days, forgotten once one goes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
import redis.asyncio

from webmail.config import Settings
from webmail.redis import Keys
from webmail.smtp.errors import SenderRefusedError

REMEMBER_SECONDS = 90 * 86400


@dataclass(frozen=True)
class SenderRule:
    """What is known of the server's answer to each From address of one user."""

    login: str
    only_login: bool = False
    refused: dict[str, str] = field(default_factory=dict)  # address (lower case) -> the server's words

    def refusal(self, address: str) -> str | None:
        """Why the server will not send as ``address`` (None: as far as is known, it will)."""
        address = _address(address)
        if address in self.refused:
            return f"The mail server refused to send as this address: “{self.refused[address]}”"
        if self.only_login and address != self.login.lower():
            return f"The mail server sends only as {self.login}."
        return None


class SenderRules:
    """The rule of each user, kept in Redis (every worker and the outbox share it)."""

    def __init__(self, settings: Settings, client: redis.asyncio.Redis) -> None:
        self.settings = settings
        self.redis = client
        self.keys = Keys(settings.redis_prefix)

    async def rule(self, login: str) -> SenderRule:
        raw = await self.redis.hgetall(self.keys.refused_senders(login))
        refused = {_text(address): _text(words) for address, words in raw.items()}
        return SenderRule(login, self.settings.smtp_senders == "login", refused)

    async def record(self, login: str, sender: str, error: Exception | None) -> None:
        """After a send from ``sender``: remember the server's refusal, or forget an old one."""
        key = self.keys.refused_senders(login)
        if isinstance(error, SenderRefusedError):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, _address(error.sender or sender), error.reason[:300])
                pipe.expire(key, REMEMBER_SECONDS)
                await pipe.execute()
        elif error is None:
            await self.redis.hdel(key, _address(sender))


def record_sync(client: redis.Redis, keys: Keys, login: str, sender: str, error: Exception | None) -> None:
    """The same record from the outbox's worker, whose Redis client blocks."""
    key = keys.refused_senders(login)
    if isinstance(error, SenderRefusedError):
        pipe = client.pipeline(transaction=True)
        pipe.hset(key, _address(error.sender or sender), error.reason[:300])
        pipe.expire(key, REMEMBER_SECONDS)
        pipe.execute()
    elif error is None:
        client.hdel(key, _address(sender))


def _address(address: str) -> str:
    return address.strip().lower()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
