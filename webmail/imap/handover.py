"""A web worker's part in handing connections over between workers (the protocol is in ``cap.py``).

Each worker is a lease holder with a name (host, pid and a random part). While it runs, it keeps
``wm:holder:<name>`` alive in Redis; its leases are ``<name>/<token>``, so a worker that was
killed stops counting against the cap a few seconds later instead of when its leases expire, and
no request asks a dead worker for a connection. The listener here closes the idle connections
that requests elsewhere ask for, and wakes this worker's queued requests when they get a slot.

Pub/sub carries both messages: a request is only in flight for a few milliseconds, every worker
is subscribed anyway (sign-outs use the same pattern), and nothing is lost if a message is: the
queue in Redis is the truth, and a waiting request looks at it again every ``RECLAIM_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time

import anyio
import anyio.abc
from redis.asyncio import Redis
from redis.exceptions import RedisError

from webmail.imap.pool import IMAPPool
from webmail.redis import Keys

logger = logging.getLogger(__name__)

HOLDER_TTL_MS = 6000
BEAT_SECONDS = 1.0


def holder_name() -> str:
    """This process's name as a lease holder: readable in Redis, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


async def join(redis: Redis, keys: Keys, holder: str) -> None:
    """Announce the holder before it takes any lease (a lease of an unknown holder is void)."""
    await redis.set(keys.lease_holder(holder), 1, px=HOLDER_TTL_MS)


async def leave(redis: Redis, keys: Keys, holder: str) -> None:
    """Say goodbye at shutdown, so nobody asks this worker for a connection any more."""
    try:
        await redis.delete(keys.lease_holder(holder))
    except RedisError:  # Redis is gone: the key lapses by itself
        logger.info("could not remove lease holder %s; it lapses by itself", holder)


async def take_part(redis: Redis, keys: Keys, pool: IMAPPool, holder: str) -> None:
    """For the worker's lifetime: keep the holder alive, give up idle connections when asked,
    wake requests that were granted a slot. Redis gone for a moment: subscribe again."""
    while True:
        try:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(keys.handover_channel(), keys.grant_channel())
            try:
                async with anyio.create_task_group() as tasks:
                    beaten = 0.0
                    while True:
                        if time.monotonic() - beaten >= BEAT_SECONDS:
                            beaten = time.monotonic()
                            await _beat(redis, keys, pool, holder)
                        message = await pubsub.get_message(timeout=BEAT_SECONDS)
                        if message is None:
                            continue
                        _dispatch(message, keys, pool, holder, tasks)
            finally:
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
        except Exception:
            logger.warning("taking part in connection hand-overs failed", exc_info=True)
            await anyio.sleep(BEAT_SECONDS)


def _dispatch(
    message: dict[str, bytes], keys: Keys, pool: IMAPPool, holder: str, tasks: anyio.abc.TaskGroup
) -> None:
    ours = holder + "/"
    data = message["data"].decode(errors="replace")
    if message["channel"].decode() == keys.grant_channel():
        if data.startswith(ours):
            pool.granted(data)
        return
    try:
        request = json.loads(data)
        user, lease = request["user"], request["lease"]
        if not isinstance(user, str) or not isinstance(lease, str):
            raise TypeError("user and lease must be text")
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("dropped a hand-over request that is not one (%s): %.100r", exc, data)
        return
    if lease.startswith(ours):
        tasks.start_soon(pool.let_go, user, lease)


async def _beat(redis: Redis, keys: Keys, pool: IMAPPool, holder: str) -> None:
    if await redis.set(keys.lease_holder(holder), 1, px=HOLDER_TTL_MS, xx=True):
        return
    # Our key had lapsed (Redis restarted, or this worker was stalled): our leases may have been
    # given to others, so our connections must go before we take new ones.
    logger.warning("lease holder %s had lapsed; closing its IMAP connections", holder)
    await pool.retire_all()
    await join(redis, keys, holder)
