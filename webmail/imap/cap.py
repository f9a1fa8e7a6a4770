"""The cluster-wide cap on one user's IMAP connections: Redis leases, a queue, and hand-over.

Each open connection holds a lease: a member of the sorted set ``wm:cap:<user>`` whose score is
its expiry time (Redis server clock, so hosts need not agree). Holders renew their leases well
before they expire; a crashed worker stops renewing, and its leases lapse by themselves. A lease
named ``<holder>/<token>`` belongs to a worker that keeps the key ``wm:holder:<holder>`` alive
(``handover.py``): once that key lapses the lease is void at once, without waiting for its expiry.

When the cap is full, a request queues in ``wm:capq:<user>``, ordered by priority (the watcher,
then page loads, then background jobs) and then by arrival, and asks the worker holding the least
recently used idle connection (``wm:idle:<user>``, scored by idle-since) to let go of it. That
worker logs out first and then releases the lease, so the cap is never exceeded at the IMAP
server; a released slot goes to the head of the queue, and a connection checked in while a better
request waits is closed and its slot handed on in the same way. Every decision is one Lua script,
so workers never disagree about who owns which slot.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from webmail.imap import metrics
from webmail.redis import Keys

# How often a waiting request looks again without being woken (a lost grant, a holder that died).
RECLAIM_SECONDS = 0.25

# KEYS: cap, idle, queue. ARGV[1..4]: holder key prefix, grant channel, lease ttl ms, limit.
_PRELUDE = """
local cap, idle, queue = KEYS[1], KEYS[2], KEYS[3]
local holders, grants = ARGV[1], ARGV[2]
local ttl, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local SPAN = 1e13

local function alive(lease)
  local holder = string.match(lease, '^(.+)/[^/]+$')
  return holder == nil or redis.call('EXISTS', holders .. holder) == 1
end

local function grant(lease)
  redis.call('ZADD', cap, now + ttl, lease)
  redis.call('PEXPIRE', cap, ttl * 2)
end

-- Forget lapsed leases and those of holders that stopped beating.
local function tidy()
  redis.call('ZREMRANGEBYSCORE', cap, '-inf', now)
  for _, lease in ipairs(redis.call('ZRANGE', cap, 0, -1)) do
    if not alive(lease) then redis.call('ZREM', cap, lease) end
  end
end

-- The best live request in the queue (member, lease, score), dropping lapsed ones.
local function head()
  while true do
    local first = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
    if #first == 0 then return nil end
    local deadline, lease = string.match(first[1], '^(%d+)|(.+)$')
    if deadline and tonumber(deadline) > now and alive(lease) then
      return first[1], lease, tonumber(first[2])
    end
    redis.call('ZREM', queue, first[1])
  end
end

-- Free slots go to the queue, best first.
local function settle()
  while redis.call('ZCARD', cap) < limit do
    local member, lease = head()
    if not member then return end
    redis.call('ZREM', queue, member)
    grant(lease)
    redis.call('PUBLISH', grants, lease)
  end
end
"""

# After Redis lost its data (a restart), connections opened before it hold no lease any more
# until their workers notice, at their next beat (``handover.py``: every second, and a second's
# pause to subscribe again): no slot is granted for this long, or the cap could be passed.
SETTLE_SECONDS = 3.0

# KEYS[4]: the settling flag. ARGV[5..9]: lease, queue member ('' before the first claim),
# priority, wait ms, settling ms.
# Returns {'granted'} | {'queued', member[, idle lease whose holder is to let go]} | {'settling'}.
_CLAIM = (
    _PRELUDE
    + """
local lease, member = ARGV[5], ARGV[6]
-- A worker's own holder key gone means Redis forgot every lease (or the worker stalled past its
-- key's life): let all workers close what they opened before, then grant again.
local own = string.match(lease, '^(.+)/[^/]+$')
if own ~= nil and redis.call('EXISTS', holders .. own) == 0 then
  redis.call('SET', KEYS[4], 1, 'PX', tonumber(ARGV[9]))
end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'settling'} end
tidy()
settle()
if redis.call('ZSCORE', cap, lease) then return {'granted'} end
if redis.call('ZCARD', cap) < limit then
  grant(lease)
  return {'granted'}
end
if member == '' or not redis.call('ZSCORE', queue, member) then
  member = string.format('%d|%s', now + tonumber(ARGV[8]), lease)
  redis.call('ZADD', queue, tonumber(ARGV[7]) * SPAN + now, member)
  if redis.call('PTTL', queue) < tonumber(ARGV[8]) + ttl then
    redis.call('PEXPIRE', queue, tonumber(ARGV[8]) + ttl)
  end
end
while true do
  local oldest = redis.call('ZRANGE', idle, 0, 0)[1]
  if not oldest then return {'queued', member} end
  redis.call('ZREM', idle, oldest)
  if redis.call('ZSCORE', cap, oldest) then return {'queued', member, oldest} end
end
"""
)

# ARGV[5..8]: lease, best local waiter's priority (-1: none), its wait so far in ms, advertise (1/0).
# Returns 'keep' (the holder keeps the connection), 'handover' (close it: a better request
# waits elsewhere) or 'lost' (the lease is void: close it without delay).
_CHECKIN = (
    _PRELUDE
    + """
local lease = ARGV[5]
tidy()
if not redis.call('ZSCORE', cap, lease) then return 'lost' end
grant(lease)
settle()
local member, _, score = head()
if member then
  local priority = tonumber(ARGV[6])
  if priority < 0 or score < priority * SPAN + now - tonumber(ARGV[7]) then return 'handover' end
end
if ARGV[8] == '1' then
  redis.call('ZADD', idle, now, lease)
  redis.call('PEXPIRE', idle, ttl * 2)
end
return 'keep'
"""
)

# ARGV[5]: lease. The connection was closed: its slot goes to the queue.
_RELEASE = (
    _PRELUDE
    + """
redis.call('ZREM', cap, ARGV[5])
redis.call('ZREM', idle, ARGV[5])
tidy()
settle()
return 1
"""
)

# KEYS: cap, idle. ARGV: lease. 1 if the idle connection may be used, 0 if a waiter elsewhere
# claimed it (or its lease is void): then the holder closes it.
_CHECKOUT = """
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 and redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
return 0
"""

# KEYS: cap, queue. ARGV: lease, member. 1 if the request had been granted (the lease is the
# caller's to use or release), 0 if it left the queue without a slot.
_CANCEL = """
if ARGV[2] ~= '' and redis.call('ZREM', KEYS[2], ARGV[2]) == 1 then return 0 end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
return 0
"""

# KEYS[1] the set (KEYS[2]: the idle set, kept as long); ARGV: ttl_ms, leases... Returns how
# many leases were still held.
_RENEW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local held = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now_ms + tonumber(ARGV[1]), ARGV[i])
    held = held + 1
  end
end
if held > 0 then
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, tonumber(ARGV[1]) * 2) end
end
return held
"""

# KEYS[1] the set. Returns the number of live leases.
_COUNT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
return redis.call('ZCARD', KEYS[1])
"""


class Priority(IntEnum):
    """Who gets a user's next free connection first: lower values go first."""

    WATCHER = 0
    INTERACTIVE = 1
    BACKGROUND = 2


CheckIn = Literal["keep", "handover", "lost"]


@dataclass
class Ticket:
    """One request for a connection: the lease it will hold, and its place in the user's queue."""

    lease: str
    priority: Priority
    wait_ms: int
    member: str = ""  # set by the first claim that queued it
    started: float = 0.0  # time.monotonic() of that claim

    @classmethod
    def issue(cls, priority: Priority, wait_seconds: float, holder: str | None = None) -> Ticket:
        """A fresh lease name: ``<holder>/<token>`` for a worker's own, a bare token otherwise."""
        token = secrets.token_hex(8)
        return cls(f"{holder}/{token}" if holder else token, priority, max(1, int(wait_seconds * 1000)))

    def queued(self, member: str) -> None:
        if not self.member:
            self.started = time.monotonic()
            metrics.HANDOVERS_REQUESTED.labels(priority=self.priority.name.lower()).inc()
        self.member = member

    def served(self) -> None:
        """The ticket holds its slot now: if it had queued, count the hand-over and its wait."""
        if self.member:
            priority = self.priority.name.lower()
            metrics.HANDOVERS_GRANTED.labels(priority=priority).inc()
            metrics.HANDOVER_WAIT.labels(priority=priority).observe(time.monotonic() - self.started)
        self.member = ""


@dataclass(frozen=True)
class Claim:
    granted: bool
    ask: str | None = None  # an idle connection's lease: its holder is asked to let go of it


class ConnectionCap:
    """The cap seen from the event loop (the workers' pools)."""

    def __init__(self, redis: Redis, prefix: str, limit: int, lease_seconds: float = 30.0) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.limit = limit
        self.ttl_ms = int(lease_seconds * 1000)
        self._claim = redis.register_script(_CLAIM)
        self._checkin = redis.register_script(_CHECKIN)
        self._release = redis.register_script(_RELEASE)
        self._checkout = redis.register_script(_CHECKOUT)
        self._cancel = redis.register_script(_CANCEL)
        self._renew = redis.register_script(_RENEW)
        self._count = redis.register_script(_COUNT)

    def key(self, user: str) -> str:
        return self.keys.connection_cap(user)

    async def claim(self, user: str, ticket: Ticket) -> Claim:
        """Take a slot for ``ticket`` if one is free and no better request waits; otherwise put
        the ticket in the user's queue (or keep it there) and name an idle connection to hand over."""
        reply = await self._claim(
            keys=[*_user_keys(self.keys, user), self.keys.cap_settling()],
            args=[*_head(self.keys, self.ttl_ms, self.limit), *_claim_args(ticket)],
        )
        return _claimed(ticket, reply)

    async def ask_release(self, user: str, lease: str) -> None:
        """Ask the worker holding ``lease`` (an idle connection) to close it and let go of its slot."""
        await self.redis.publish(self.keys.handover_channel(), handover_message(user, lease))

    async def check_in(
        self, user: str, lease: str, waiting: tuple[Priority, float] | None, *, advertise: bool
    ) -> CheckIn:
        """A connection was freed: keep it, or close it because a better request waits elsewhere.

        ``waiting`` is the best local request (priority, seconds waited); ``advertise`` records the
        connection as idle so that waiters elsewhere may ask for it."""
        priority, waited = waiting if waiting is not None else (-1, 0.0)
        reply = await self._checkin(
            keys=_user_keys(self.keys, user),
            args=[
                *_head(self.keys, self.ttl_ms, self.limit),
                lease,
                int(priority),
                int(waited * 1000),
                int(advertise),
            ],
        )
        return _check_in(reply)

    async def check_out(self, user: str, lease: str) -> bool:
        """True if the idle connection of ``lease`` is still ours to use (no waiter claimed it)."""
        return int(await self._checkout(keys=_user_keys(self.keys, user)[:2], args=[lease])) == 1

    async def cancel(self, user: str, ticket: Ticket) -> bool:
        """Leave the queue; True if the ticket had been granted its slot meanwhile (then the
        caller uses that lease, calling ``ticket.served()``, or releases it)."""
        keys = _user_keys(self.keys, user)
        return int(await self._cancel(keys=[keys[0], keys[2]], args=[ticket.lease, ticket.member])) == 1

    async def release(self, user: str, lease: str) -> None:
        """The connection of ``lease`` is closed: its slot goes to the queue, or becomes free."""
        await self._release(
            keys=_user_keys(self.keys, user), args=[*_head(self.keys, self.ttl_ms, self.limit), lease]
        )

    async def renew(self, user: str, leases: list[str]) -> int:
        if not leases:
            return 0
        keys = [self.key(user), self.keys.idle_connections(user)]
        return int(await self._renew(keys=keys, args=[self.ttl_ms, *leases]))

    async def count(self, user: str) -> int:
        return int(await self._count(keys=[self.key(user)]))


class SyncLease:
    """One lease for a connection held by a thread or background job (blocking Redis; the holder renews it)."""

    def __init__(
        self,
        redis: SyncRedis,
        prefix: str,
        user: str,
        limit: int,
        lease_seconds: float,
        *,
        priority: Priority,
        holder: str | None = None,
    ) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.user = user
        self.key = self.keys.connection_cap(user)
        self.limit = limit
        self.ttl_ms = int(lease_seconds * 1000)
        self.priority = priority
        self.holder = holder
        self.lease = ""

    def acquire(self, wait_seconds: float) -> bool:
        """Take a slot, queueing (and asking for a hand-over) for up to ``wait_seconds``."""
        ticket = Ticket.issue(self.priority, wait_seconds, self.holder)
        claim = self._claim(ticket)
        if not claim.granted:
            claim = self._wait(ticket, claim, time.monotonic() + wait_seconds)
        if claim.granted:
            self.lease = ticket.lease
        return claim.granted

    def _wait(self, ticket: Ticket, claim: Claim, deadline: float) -> Claim:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.keys.grant_channel())
            while True:
                if claim.ask is not None:
                    self.redis.publish(self.keys.handover_channel(), handover_message(self.user, claim.ask))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    granted = self._cancel(ticket)
                    return Claim(granted)
                stop = time.monotonic() + min(remaining, RECLAIM_SECONDS)
                while (left := stop - time.monotonic()) > 0:
                    message = pubsub.get_message(timeout=left)
                    if message is not None and message["data"] == ticket.lease.encode():
                        break
                claim = self._claim(ticket)
                if claim.granted:
                    return claim
        finally:
            pubsub.close()

    def _claim(self, ticket: Ticket) -> Claim:
        reply = self.redis.eval(
            _CLAIM,
            4,
            *_user_keys(self.keys, self.user),
            self.keys.cap_settling(),
            *_head(self.keys, self.ttl_ms, self.limit),
            *_claim_args(ticket),
        )
        return _claimed(ticket, reply)

    def _cancel(self, ticket: Ticket) -> bool:
        keys = _user_keys(self.keys, self.user)
        granted = self.redis.eval(_CANCEL, 2, keys[0], keys[2], ticket.lease, ticket.member) == 1
        if granted:
            ticket.served()
        return bool(granted)

    def renew(self) -> None:
        self.redis.eval(_RENEW, 1, self.key, self.ttl_ms, self.lease)

    def release(self) -> None:
        self.redis.eval(
            _RELEASE,
            3,
            *_user_keys(self.keys, self.user),
            *_head(self.keys, self.ttl_ms, self.limit),
            self.lease,
        )


def handover_message(user: str, lease: str) -> str:
    return json.dumps({"user": user, "lease": lease})


def _user_keys(keys: Keys, user: str) -> list[str]:
    return [keys.connection_cap(user), keys.idle_connections(user), keys.connection_queue(user)]


def _head(keys: Keys, ttl_ms: int, limit: int) -> list[str | int]:
    return [keys.lease_holder_prefix(), keys.grant_channel(), ttl_ms, limit]


def _claim_args(ticket: Ticket) -> list[str | int]:
    return [ticket.lease, ticket.member, int(ticket.priority), ticket.wait_ms, int(SETTLE_SECONDS * 1000)]


def _claimed(ticket: Ticket, reply: list[bytes]) -> Claim:
    if reply[0] == b"granted":
        ticket.served()
        return Claim(True)
    if reply[0] == b"settling":
        return Claim(False)  # asked again shortly, as a queued request is
    ticket.queued(reply[1].decode())
    return Claim(False, reply[2].decode() if len(reply) > 2 else None)


def _check_in(reply: bytes) -> CheckIn:
    verdict = reply.decode()
    assert verdict in ("keep", "handover", "lost")
    return verdict  # type: ignore[return-value]
