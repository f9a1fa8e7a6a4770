"""webmail.events through real Redis: what one process publishes, another's subscriber gets."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import anyio
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from tests.conftest import run_async
from tests.unit.test_events import EVERY_EVENT
from webmail.devservices import DevServices
from webmail.events import Event, MailboxChanged, POP3Progress, publish, publish_async, subscribe
from webmail.redis import Keys


@pytest.fixture
def keys() -> Keys:
    return Keys(f"tbus-{uuid.uuid4().hex[:8]}")


async def receive(
    redis: Redis, keys: Keys, user: str, publish_all: Callable[[], Awaitable[None]], count: int
) -> list[Event]:
    """Subscribe, run ``publish_all`` once subscribed, and collect ``count`` events."""
    received: list[Event] = []
    with anyio.fail_after(10):
        async with aclosing(subscribe(redis, keys, user, tick_seconds=0.2)) as live:
            published = False
            async for event in live:
                if not published:
                    assert event is None  # first: subscribed
                    await publish_all()
                    published = True
                elif event is not None:
                    received.append(event)
                    if len(received) == count:
                        break
    return received


def test_every_event_published_from_a_thread_or_job_arrives_in_order(
    services: DevServices, keys: Keys
) -> None:
    blocking = SyncRedis.from_url(services.redis.url)

    async def publish_all() -> None:
        for event in EVERY_EVENT:
            # Publishers and subscribers both use the canonical account name (auth.usernames):
            # keys keep its case, so Bob and bob on a case-sensitive server never share events.
            publish(blocking, keys, "ann@example.org", event)

    async def scenario() -> list[Event]:
        redis = Redis.from_url(services.redis.url)
        try:
            return await receive(redis, keys, "ann@example.org", publish_all, len(EVERY_EVENT))
        finally:
            await redis.aclose()

    try:
        assert run_async(scenario) == EVERY_EVENT
    finally:
        blocking.close()


def test_every_event_published_on_the_event_loop_arrives_in_order(services: DevServices, keys: Keys) -> None:
    async def scenario() -> list[Event]:
        redis = Redis.from_url(services.redis.url)

        async def publish_all() -> None:
            for event in EVERY_EVENT:
                await publish_async(redis, keys, "ann@example.org", event)

        try:
            return await receive(redis, keys, "ann@example.org", publish_all, len(EVERY_EVENT))
        finally:
            await redis.aclose()

    assert run_async(scenario) == EVERY_EVENT


def test_garbage_on_the_channel_is_skipped_and_the_stream_goes_on(services: DevServices, keys: Keys) -> None:
    async def scenario() -> list[Event]:
        redis = Redis.from_url(services.redis.url)

        async def publish_all() -> None:
            channel = keys.events_channel("ann@example.org")
            await redis.publish(channel, b"\xff not json")
            await redis.publish(channel, b'{"type": "pop3", "account": "x", "state": "done"}')
            await redis.publish(channel, b'{"type": "from-the-future"}')
            await publish_async(redis, keys, "ann@example.org", POP3Progress(1, "done"))

        try:
            return await receive(redis, keys, "ann@example.org", publish_all, 1)
        finally:
            await redis.aclose()

    assert run_async(scenario) == [POP3Progress(1, "done")]


def test_other_users_events_do_not_arrive(services: DevServices, keys: Keys) -> None:
    async def scenario() -> list[Event]:
        redis = Redis.from_url(services.redis.url)

        async def publish_all() -> None:
            await publish_async(redis, keys, "bob@example.org", MailboxChanged(("Bob's",)))
            await publish_async(redis, keys, "ann@example.org", MailboxChanged(("Ann's",)))

        try:
            return await receive(redis, keys, "ann@example.org", publish_all, 1)
        finally:
            await redis.aclose()

    assert run_async(scenario) == [MailboxChanged(("Ann's",))]


def test_closing_the_subscription_unsubscribes(services: DevServices, keys: Keys) -> None:
    async def scenario() -> tuple[int, int]:
        redis = Redis.from_url(services.redis.url)
        channel = keys.events_channel("ann@example.org")
        try:
            async with aclosing(subscribe(redis, keys, "ann@example.org")) as live:
                assert await anext(live) is None
                listening = (await redis.pubsub_numsub(channel))[0][1]
            return listening, (await redis.pubsub_numsub(channel))[0][1]
        finally:
            await redis.aclose()

    assert run_async(scenario) == (1, 0)
