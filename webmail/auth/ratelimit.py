"""Counting failed sign-ins per account and per client network in Redis.

Every attempt is counted before its password is tried (a reservation, in one Lua script, so
sixty attempts sent at once cannot all pass one check) and the count is taken back when the
password turned out right or the server could not be asked. Accounts are counted by their
canonical name (``auth.usernames``), clients by address, IPv6 clients by their /64 (one host
usually has a whole /64 to pick addresses from).

When only the account's limit is reached, an attempt from a browser that signed in to it before
(``auth.devices``), or from a network without failures of its own, waits a growing delay
instead of being refused: otherwise five wrong passwords from anyone would lock the owner out.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from redis.asyncio import Redis

from webmail.auth.errors import RateLimitedError
from webmail.config import Settings
from webmail.redis import Keys

MAX_DELAY_SECONDS = 30.0

# KEYS: the account's and the network's counters. ARGV: their limits, the window, and 1 for a
# browser that signed in to the account before. Returns {0, seconds to wait} for a refusal, or
# {1, how many attempts the busier counter is over its limit}.
_RESERVE = """
local account = tonumber(redis.call('GET', KEYS[1]) or '0')
local network = tonumber(redis.call('GET', KEYS[2]) or '0')
local account_over = account >= tonumber(ARGV[1])
local network_over = network >= tonumber(ARGV[2])
if ARGV[4] ~= '1' and (network_over or (account_over and network > 0)) then
  local wait = 0
  if account_over then wait = redis.call('TTL', KEYS[1]) end
  if network_over then wait = math.max(wait, redis.call('TTL', KEYS[2])) end
  return {0, wait}
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[3], 'NX')
end
return {1, math.max(account - tonumber(ARGV[1]) + 1, network - tonumber(ARGV[2]) + 1, 0)}
"""

# Takes one reservation back from each counter that still has it (a counter may have expired).
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
"""


def network_of(ip: str) -> str:
    """The bucket of a client address: the address itself, or the /64 of an IPv6 address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class Attempt:
    """A reserved sign-in attempt: counted as failed unless released."""

    account_key: str
    network_key: str
    delay: float  # seconds to wait before the password is tried


class LoginRateLimiter:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.keys = Keys(settings.redis_prefix)
        self.window = settings.login_failure_window_minutes * 60
        self.max_user = settings.login_max_failures_per_user
        self.max_ip = settings.login_max_failures_per_ip
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    async def reserve(self, identity: str, ip: str, *, known_device: bool) -> Attempt:
        """Count an attempt for the account ``identity`` from ``ip`` before its password is tried.

        Raises RateLimitedError when the limits refuse it.
        """
        account_key = self.keys.login_failures_user(identity)
        network_key = self.keys.login_failures_ip(network_of(ip))
        allowed, value = await self._reserve(
            keys=[account_key, network_key],
            args=[self.max_user, self.max_ip, self.window, int(known_device)],
        )
        if not allowed:
            raise RateLimitedError(int(value))
        over = int(value)
        delay = min(2.0 ** (over - 1), MAX_DELAY_SECONDS) if over > 0 else 0.0
        return Attempt(account_key, network_key, delay)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account's failures are forgiven, the network's stay."""
        await self._release(keys=[attempt.network_key])
        await self.redis.delete(attempt.account_key)

    async def cancel(self, attempt: Attempt) -> None:
        """The password could not be tried (server unavailable): the attempt does not count."""
        await self._release(keys=[attempt.account_key, attempt.network_key])
