"""What a worker keeps of the renderings besides Redis: bounded in number, bytes and time, and
dropped per user at sign-out."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import anyio
import pytest

from webmail.auth.crypto import ServerCipher
from webmail.imap import cache
from webmail.imap.cache import CachedView, ViewCache
from webmail.mail.render import BodyBlock, MessageView, parse_headers


class Pipeline:
    def __init__(self, store: dict[str, bytes]) -> None:
        self.store = store

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None

    def set(self, key: str, value: bytes, ex: int) -> None:
        self.store[key] = value

    def sadd(self, *args: Any) -> None: ...

    def expire(self, *args: Any) -> None: ...

    async def execute(self) -> None: ...


class Redis:
    """Keys and values only: what ViewCache asks of Redis."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}
        self.gets = 0

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        return self.store.get(key)

    def pipeline(self, transaction: bool) -> Pipeline:
        return Pipeline(self.store)


def view(text: str) -> CachedView:
    shown = MessageView(parse_headers(b""), [BodyBlock("html", text)], [], True, False, 0, [], [])
    return CachedView(shown, "a@example.org")


def cache_of(redis: Redis) -> ViewCache:
    return ViewCache(redis, "t", ServerCipher("s" * 40, "view-cache"))  # type: ignore[arg-type]


def key(views: ViewCache, user: str, uid: int) -> str:
    return views.key(user, "INBOX", 1, uid, allow_remote=False, prefer_html=True, base="")


def test_a_view_written_or_read_is_then_kept_here() -> None:
    async def main() -> None:
        redis = Redis()
        views = cache_of(redis)
        await views.put("ann", key(views, "ann", 1), view("<p>one</p>"))
        assert (await views.get(key(views, "ann", 1))) == view("<p>one</p>")
        assert redis.gets == 0
        elsewhere = cache_of(redis)  # another worker: reads Redis once, then keeps it
        for _ in range(3):
            assert (await elsewhere.get(key(views, "ann", 1))) == view("<p>one</p>")
        assert redis.gets == 1

    anyio.run(main)


def test_kept_views_are_bounded_in_number_bytes_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        redis = Redis()
        views = cache_of(redis)
        for uid in range(cache.RECENT_VIEWS + 1):
            await views.put("ann", key(views, "ann", uid), view(f"<p>{uid}</p>"))
        await views.get(key(views, "ann", 0))  # the oldest went: Redis is asked
        assert redis.gets == 1
        monkeypatch.setattr(cache, "RECENT_VIEW_BYTES", 2000)
        await views.put("ann", key(views, "ann", 999), view("<p>" + "x" * 500 + "</p>"))
        assert key(views, "ann", 999) in views._recent  # the newest stays, the oldest make room
        assert views._recent_bytes <= 2000
        assert len(views._recent) < cache.RECENT_VIEWS
        now = cache.time.monotonic()
        monkeypatch.setattr(cache.time, "monotonic", lambda: now + cache.RECENT_VIEW_SECONDS + 1)
        await views.get(key(views, "ann", 999))
        assert redis.gets == 2  # too old here: read again

    anyio.run(main)


def test_sign_out_drops_only_that_users_views() -> None:
    async def main() -> None:
        redis = Redis()
        views = cache_of(redis)
        for user in ("ann", "ann.other", "bob"):
            await views.put(user, key(views, user, 1), view(f"<p>{user}</p>"))
        views.forget_here("ann")
        redis.store.clear()  # as sign-out does to Redis
        assert await views.get(key(views, "ann", 1)) is None
        assert await views.get(key(views, "ann.other", 1)) == view("<p>ann.other</p>")
        assert await views.get(key(views, "bob", 1)) == view("<p>bob</p>")

    anyio.run(main)


def test_a_sweep_drops_what_is_past_its_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        views = cache_of(Redis())
        await views.put("ann", key(views, "ann", 1), view("<p>old</p>"))
        now = cache.time.monotonic()
        monkeypatch.setattr(cache.time, "monotonic", lambda: now + cache.RECENT_VIEW_SECONDS)
        views.sweep()
        assert len(views._recent) == 0
        assert views._recent_bytes == 0

    anyio.run(main)
