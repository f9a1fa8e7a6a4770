"""The cluster-wide cap against real Redis: leases, the queue, hand-over and lease holders."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import pytest
import redis
from redis.asyncio import Redis

from tests.conftest import run_async
from webmail.devservices import DevServices
from webmail.imap.cap import ConnectionCap, Priority, SyncLease, Ticket
from webmail.redis import Keys

PREFIX = "tcap"


@pytest.fixture
def cap_user() -> str:
    return f"cap-{uuid.uuid4().hex[:8]}@test"


@asynccontextmanager
async def capped(
    services: DevServices, limit: int, lease_seconds: float = 30
) -> AsyncIterator[ConnectionCap]:
    client = Redis.from_url(services.redis.url)
    try:
        yield ConnectionCap(client, PREFIX, limit=limit, lease_seconds=lease_seconds)
    finally:
        await client.aclose()


def ticket(priority: Priority = Priority.INTERACTIVE, holder: str | None = None) -> Ticket:
    return Ticket.issue(priority, wait_seconds=30, holder=holder)


def test_leases_up_to_the_limit(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        async with capped(services, limit=3) as cap:
            tickets = [ticket() for _ in range(4)]
            claims = [await cap.claim(cap_user, t) for t in tickets]
            assert all(c.granted for c in claims[:3])
            assert not claims[3].granted
            assert await cap.count(cap_user) == 3
            await cap.release(cap_user, tickets[0].lease)
            assert (await cap.claim(cap_user, tickets[3])).granted  # the released slot went to the waiter
            assert await cap.count(cap_user) == 3

    run_async(scenario)


def test_leases_of_a_dead_holder_expire(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        async with capped(services, limit=2, lease_seconds=1) as cap:
            kept, abandoned, waiting = ticket(), ticket(), ticket()
            assert (await cap.claim(cap_user, kept)).granted
            assert (await cap.claim(cap_user, abandoned)).granted
            assert not (await cap.claim(cap_user, waiting)).granted
            for _ in range(3):
                await anyio.sleep(0.4)
                assert await cap.renew(cap_user, [kept.lease]) == 1  # only the live holder renews
            assert await cap.count(cap_user) == 1
            assert (await cap.claim(cap_user, waiting)).granted

    started = time.monotonic()
    run_async(scenario)
    assert time.monotonic() - started < 5


def test_the_queue_goes_by_priority_then_arrival(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        async with capped(services, limit=1) as cap:
            held = ticket()
            assert (await cap.claim(cap_user, held)).granted
            job, page, later_page, watcher = (
                ticket(Priority.BACKGROUND),
                ticket(),
                ticket(),
                ticket(Priority.WATCHER),
            )
            for waiting in (job, page, later_page, watcher):
                assert not (await cap.claim(cap_user, waiting)).granted
                await anyio.sleep(0.005)  # arrival is measured in milliseconds
            order = []
            lease = held.lease
            for _ in range(4):
                await cap.release(cap_user, lease)
                granted = [
                    t
                    for t in (job, page, later_page, watcher)
                    if t not in order and (await cap.claim(cap_user, t)).granted
                ]
                assert len(granted) == 1
                order.append(granted[0])
                lease = granted[0].lease
            assert order == [watcher, page, later_page, job]

    run_async(scenario)


def test_a_newcomer_does_not_jump_the_queue(services: DevServices, cap_user: str) -> None:
    """A slot freed by expiry goes to the request that waited, not to whoever asks first."""

    async def scenario() -> None:
        async with capped(services, limit=1, lease_seconds=0.5) as cap:
            assert (await cap.claim(cap_user, ticket())).granted
            waiting = ticket(Priority.BACKGROUND)
            assert not (await cap.claim(cap_user, waiting)).granted
            await anyio.sleep(0.7)  # the first lease lapses
            assert not (await cap.claim(cap_user, ticket())).granted  # settles the slot to the waiter first
            assert (await cap.claim(cap_user, waiting)).granted

    run_async(scenario)


def test_a_waiter_asks_for_the_least_recently_used_idle_connection(
    services: DevServices, cap_user: str
) -> None:
    async def scenario() -> None:
        async with capped(services, limit=2) as cap:
            older, newer = ticket(), ticket()
            for held in (older, newer):
                assert (await cap.claim(cap_user, held)).granted
            assert await cap.check_in(cap_user, older.lease, None, advertise=True) == "keep"
            await anyio.sleep(0.01)
            assert await cap.check_in(cap_user, newer.lease, None, advertise=True) == "keep"
            first, second, third = ticket(), ticket(), ticket()
            assert (await cap.claim(cap_user, first)).ask == older.lease
            await anyio.sleep(0.005)  # arrival is measured in milliseconds
            assert (await cap.claim(cap_user, second)).ask == newer.lease
            await anyio.sleep(0.005)
            assert (await cap.claim(cap_user, third)).ask is None  # nothing idle is left to ask for
            # The holder of the claimed connection finds it claimed when it wants to use it.
            assert not await cap.check_out(cap_user, older.lease)
            await cap.release(cap_user, older.lease)  # after LOGOUT: the slot goes to the queue
            assert (await cap.claim(cap_user, first)).granted
            assert not (await cap.claim(cap_user, second)).granted

    run_async(scenario)


def test_a_long_idle_connection_can_still_be_asked_for(services: DevServices, cap_user: str) -> None:
    """Renewing the leases keeps the record of idle connections as long as the leases."""

    async def scenario() -> None:
        async with capped(services, limit=1, lease_seconds=0.3) as cap:
            idle = ticket()
            assert (await cap.claim(cap_user, idle)).granted
            assert await cap.check_in(cap_user, idle.lease, None, advertise=True) == "keep"
            for _ in range(8):  # 1.6 s: past twice the lease time
                await anyio.sleep(0.2)
                assert await cap.renew(cap_user, [idle.lease]) == 1
            assert (await cap.claim(cap_user, ticket())).ask == idle.lease

    run_async(scenario)


def test_a_freed_connection_goes_to_a_better_waiter(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        async with capped(services, limit=1) as cap:
            held = ticket()
            assert (await cap.claim(cap_user, held)).granted
            # An interactive request queued elsewhere waited longer than ours: it goes first.
            elsewhere = ticket()
            assert not (await cap.claim(cap_user, elsewhere)).granted
            await anyio.sleep(0.05)
            assert (
                await cap.check_in(cap_user, held.lease, (Priority.INTERACTIVE, 0.0), advertise=False)
                == "handover"
            )
            # One that waited less does not; a background job never takes it from a page load.
            assert (
                await cap.check_in(cap_user, held.lease, (Priority.INTERACTIVE, 1.0), advertise=False)
                == "keep"
            )
            assert await cap.cancel(cap_user, elsewhere) is False
            job = ticket(Priority.BACKGROUND)
            assert not (await cap.claim(cap_user, job)).granted
            assert (
                await cap.check_in(cap_user, held.lease, (Priority.INTERACTIVE, 0.0), advertise=False)
                == "keep"
            )
            # The watcher goes before any page load, and an idle connection goes to any waiter.
            watcher = ticket(Priority.WATCHER)
            assert not (await cap.claim(cap_user, watcher)).granted
            assert (
                await cap.check_in(cap_user, held.lease, (Priority.INTERACTIVE, 5.0), advertise=False)
                == "handover"
            )
            assert await cap.check_in(cap_user, held.lease, None, advertise=True) == "handover"

    run_async(scenario)


def test_a_cancel_after_the_grant_keeps_the_slot(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        async with capped(services, limit=1) as cap:
            held, late = ticket(), ticket()
            assert (await cap.claim(cap_user, held)).granted
            assert not (await cap.claim(cap_user, late)).granted
            await cap.release(cap_user, held.lease)
            assert await cap.cancel(cap_user, late) is True  # granted meanwhile: ours to use or release
            assert await cap.count(cap_user) == 1
            await cap.release(cap_user, late.lease)
            assert await cap.count(cap_user) == 0

    run_async(scenario)


def test_leases_of_a_holder_that_stopped_beating_are_void(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        async with capped(services, limit=2) as cap:
            keys = Keys(PREFIX)
            await cap.redis.set(keys.lease_holder("dead"), 1, px=300)
            await cap.redis.set(keys.lease_holder("alive"), 1, px=30_000)
            dead, alive = ticket(holder="dead"), ticket(holder="alive")
            assert (await cap.claim(cap_user, dead)).granted
            assert (await cap.claim(cap_user, alive)).granted
            assert await cap.check_in(cap_user, dead.lease, None, advertise=True) == "keep"
            waiting = ticket()
            claim = await cap.claim(cap_user, waiting)
            assert claim.ask == dead.lease
            await anyio.sleep(0.4)  # the dead holder's key lapses; its lease has 30 s to go
            assert (await cap.claim(cap_user, waiting)).granted
            assert await cap.check_in(cap_user, dead.lease, None, advertise=True) == "lost"
            assert await cap.count(cap_user) == 2

    run_async(scenario)


def test_a_blocking_lease_is_woken_by_the_release(services: DevServices, cap_user: str) -> None:
    """The watcher's and the POP3 jobs' way: blocked in acquire() until a slot is handed over."""
    client = redis.Redis.from_url(services.redis.url)
    lease = SyncLease(client, PREFIX, cap_user, 1, 30, priority=Priority.WATCHER)

    async def scenario() -> float:
        async with capped(services, limit=1) as cap:
            held = ticket()
            assert (await cap.claim(cap_user, held)).granted
            assert await cap.check_in(cap_user, held.lease, None, advertise=True) == "keep"
            asked: list[str] = []
            taken = threading.Event()

            def take() -> None:
                asked.append(str(lease.acquire(wait_seconds=5)))
                taken.set()

            with subscribed(services, Keys(PREFIX).handover_channel()) as requests:
                thread = threading.Thread(target=take)
                thread.start()
                message = await anyio.to_thread.run_sync(requests.next, 5.0)
                assert held.lease in message
                started = time.monotonic()
                await cap.release(cap_user, held.lease)
                await anyio.to_thread.run_sync(taken.wait, 5.0)
                elapsed = time.monotonic() - started
                thread.join(5)
            assert asked == ["True"]
            lease.release()
            assert await cap.count(cap_user) == 0
            return elapsed

    try:
        assert run_async(scenario) < 0.2  # woken by the grant, not by its 0.25 s second look
    finally:
        client.close()


class Messages:
    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self.pubsub = pubsub

    def next(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                return str(message["data"].decode())
        raise TimeoutError("no message")


@contextmanager
def subscribed(services: DevServices, channel: str) -> Iterator[Messages]:
    client = redis.Redis.from_url(services.redis.url)
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        yield Messages(pubsub)
    finally:
        pubsub.close()
        client.close()
