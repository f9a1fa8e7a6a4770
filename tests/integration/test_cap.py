from __future__ import annotations

import time
import uuid

import anyio
import pytest
from redis.asyncio import Redis

from tests.conftest import run_async
from webmail.devservices import DevServices
from webmail.imap.cap import ConnectionCap


@pytest.fixture
def cap_user() -> str:
    return f"cap-{uuid.uuid4().hex[:8]}@test"


def test_leases_up_to_the_limit(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(services.redis.url)
        cap = ConnectionCap(redis, "tcap", limit=3, lease_seconds=30)
        leases = [await cap.try_acquire(cap_user) for _ in range(4)]
        assert all(leases[:3])
        assert leases[3] is None
        assert await cap.count(cap_user) == 3
        await cap.release(cap_user, leases[0])  # type: ignore[arg-type]
        assert await cap.try_acquire(cap_user) is not None
        assert await cap.count(cap_user) == 3
        await redis.aclose()

    run_async(scenario)


def test_leases_of_a_dead_holder_expire(services: DevServices, cap_user: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(services.redis.url)
        cap = ConnectionCap(redis, "tcap", limit=2, lease_seconds=1)
        kept = await cap.try_acquire(cap_user)
        abandoned = await cap.try_acquire(cap_user)
        assert kept
        assert abandoned
        assert await cap.try_acquire(cap_user) is None
        for _ in range(3):
            await anyio.sleep(0.4)
            assert await cap.renew(cap_user, [kept]) == 1  # only the live holder renews
        assert await cap.count(cap_user) == 1
        assert await cap.try_acquire(cap_user) is not None
        await redis.aclose()

    started = time.monotonic()
    run_async(scenario)
    assert time.monotonic() - started < 5
