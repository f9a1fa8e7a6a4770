"""Message-list pages in Redis, shared by all workers, keyed by the folder's exact state.

A page is stored under (user, folder, UIDVALIDITY, HIGHESTMODSEQ, sort, page, size). Any change
to a folder (new mail, flags, expunge) raises its HIGHESTMODSEQ (RFC 7162), so a page found under
the current value is exactly what the server would answer: the cache can be stale never, only
cold. Servers without CONDSTORE key it by UIDNEXT and message count instead, and the store checks
the flags of a page it finds (``MailStore._cached``). Stored as JSON, not pickle: whoever can
write Redis must not be able to run code here.

Pages hold subjects, senders and recipients, so they are sealed (AES-GCM under a key derived from
``WEBMAIL_SECRET_KEY``, bound to their Redis key) and folder names and search text appear in keys
only as keyed hashes: a Redis dump alone reveals nothing about anyone's mail.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from webmail.imap.types import Address, FolderState, MessagePage, MessageSummary, ThreadRow
from webmail.mail.render import Attachment, BodyBlock, HeaderAddress, Headers, MessageView
from webmail.redis import Keys

PAGE_TTL_SECONDS = 600
# Rendered messages: a message under (UIDVALIDITY, UID) never changes, so only memory bounds them.
VIEW_TTL_SECONDS = 6 * 3600
VIEW_MAX_BYTES = 1024 * 1024  # sealed; a bigger rendering is not cached
# Decoded renderings this worker keeps besides Redis: a reader's body frame asks for the same one
# a moment later, mostly on the same keep-alive connection. Dropped at sign-out (``forget_here``).
RECENT_VIEWS = 64
RECENT_VIEW_BYTES = 4 * 1024 * 1024  # of their JSON; decoded, they take two to three times that
RECENT_VIEW_SECONDS = 60.0


class Cipher(Protocol):
    """How cached data is sealed: ``auth.crypto.ServerCipher`` (imap does not import auth)."""

    def seal(self, plain: bytes, bound_to: str) -> bytes: ...

    def open(self, blob: bytes, bound_to: str) -> bytes | None: ...

    def tag(self, text: str) -> str: ...


# Pages read back, by their plain JSON: reading 50 rows back into objects took 0.33 ms, and a
# list asks for the page it stored a moment before. The objects are a pure function of the
# bytes and immutable, so sharing them in the process gives nothing to anyone but those bytes.
DECODED_PAGES = 256


class PageCache:
    def __init__(self, redis: Redis, prefix: str, cipher: Cipher) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.cipher = cipher
        self._decoded: OrderedDict[bytes, MessagePage] = OrderedDict()

    def key(self, user: str, folder: str, uidvalidity: int, state: int | str, variant: str) -> str:
        """``state`` is the folder's HIGHESTMODSEQ or, without CONDSTORE, its UIDNEXT and count;
        ``variant`` (sort, page, a search's text...) may be any text: it is hashed like the folder."""
        return self.keys.page(user, self.cipher.tag(folder), uidvalidity, state, self.cipher.tag(variant))

    async def _load(self, key: str) -> Any:
        blob = await self.redis.get(key)
        plain = self.cipher.open(blob, key) if isinstance(blob, bytes) else None
        return None if plain is None else orjson.loads(plain)

    def _sealed(self, key: str, data: Any) -> bytes:
        return self.cipher.seal(orjson.dumps(data), key)

    async def get(self, key: str) -> MessagePage | None:
        blob = await self.redis.get(key)
        plain = self.cipher.open(blob, key) if isinstance(blob, bytes) else None
        if plain is None:
            return None
        page = self._decoded.get(plain)
        if page is not None:
            self._decoded.move_to_end(plain)
            return page
        try:
            page = page_from_json(orjson.loads(plain))
        except (ValueError, KeyError, TypeError):
            return None
        self._remember(plain, page)
        return page

    def _remember(self, plain: bytes, page: MessagePage) -> None:
        self._decoded[plain] = page
        self._decoded.move_to_end(plain)
        if len(self._decoded) > DECODED_PAGES:
            self._decoded.popitem(last=False)

    async def put(self, user: str, keys: Sequence[str], page: MessagePage) -> None:
        """Store ``page`` under each of ``keys`` (written out once, sealed to each key)."""
        plain = orjson.dumps(page_to_json(page))
        self._remember(plain, page)  # reads back as itself (test_cache.py: test_json_round_trip)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(key, self.cipher.seal(plain, key), ex=PAGE_TTL_SECONDS)
            pipe.sadd(self.keys.page_index(user), *keys)
            pipe.expire(self.keys.page_index(user), PAGE_TTL_SECONDS)
            await pipe.execute()

    async def get_uids(self, key: str) -> list[int] | None:
        try:
            data = await self._load(key)
            return None if data is None else [int(uid) for uid in data]
        except (ValueError, TypeError):
            return None

    async def put_uids(self, user: str, key: str, uids: list[int]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, self._sealed(key, uids), ex=PAGE_TTL_SECONDS)
            pipe.sadd(self.keys.page_index(user), key)
            pipe.expire(self.keys.page_index(user), PAGE_TTL_SECONDS)
            await pipe.execute()

    async def forget_user(self, user: str) -> None:
        """Delete every cached page and rendered message of the user (sign-out)."""
        indexes = [self.keys.page_index(user), self.keys.view_index(user)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for index in indexes:
                pipe.smembers(index)
            members = await pipe.execute()
        keys = [key for found in members for key in found]
        await self.redis.delete(*keys, *indexes)

    async def get_html(self, key: str) -> bytes | None:
        """A rendered list partial stored by ``put_html``."""
        blob = await self.redis.get(key)
        return self.cipher.open(blob, key) if isinstance(blob, bytes) else None

    async def put_html(self, user: str, key: str, html: bytes) -> None:
        if len(html) > VIEW_MAX_BYTES:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, self.cipher.seal(html, key), ex=PAGE_TTL_SECONDS)
            pipe.sadd(self.keys.page_index(user), key)
            pipe.expire(self.keys.page_index(user), PAGE_TTL_SECONDS)
            await pipe.execute()

    def html_key(self, user: str, variant: str) -> str:
        """``variant`` names everything the rendering shows (folder states, query, session...)."""
        return self.keys.rendered_list(user, self.cipher.tag(variant))


@dataclass(frozen=True)
class CachedView:
    """A message as rendered for one remote-content mode, and whose remote content it holds."""

    view: MessageView
    sender: str  # the From address the remote-content allowance goes by
    # The message's summary when it was rendered: all of it but the flags is as immutable as the
    # message, so opening it again asks IMAP for the flags alone.
    summary: MessageSummary | None = None


class ViewCache:
    """Rendered messages (sanitised body, structure, attachments, remote-content facts) in Redis.

    Keyed by user, folder, UIDVALIDITY, UID and a variant that names everything the rendering
    depends on (remote content allowed or not, HTML or plain preferred, the app's URL prefix):
    a message under a UIDVALIDITY and UID never changes (RFC 3501), so an entry is never stale;
    flags are mutable and are not in it. Sealed and bound to its key like the pages. The last
    few read or written are also kept here, decoded, for a minute: shared, so never changed.
    """

    def __init__(self, redis: Redis, prefix: str, cipher: Cipher) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.cipher = cipher
        self._recent: OrderedDict[str, tuple[float, int, CachedView]] = OrderedDict()
        self._recent_bytes = 0

    def key(
        self,
        user: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        *,
        allow_remote: bool,
        prefer_html: bool,
        base: str,
    ) -> str:
        variant = f"remote={int(allow_remote)}:html={int(prefer_html)}:{base}"
        return self.keys.message_view(
            user, self.cipher.tag(folder), uidvalidity, uid, self.cipher.tag(variant)
        )

    async def get(self, key: str) -> CachedView | None:
        recent = self._recent.get(key)
        if recent is not None and time.monotonic() - recent[0] < RECENT_VIEW_SECONDS:
            self._recent.move_to_end(key)
            return recent[2]
        blob = await self.redis.get(key)
        plain = self.cipher.open(blob, key) if isinstance(blob, bytes) else None
        if plain is None:
            return None
        try:
            data = orjson.loads(plain)
            summary = data.get("summary")
            cached = CachedView(
                view_from_json(data["view"]),
                str(data["sender"]),
                _summary_from_json(summary) if summary is not None else None,
            )
        except (ValueError, KeyError, TypeError):
            return None
        self._remember(key, len(plain), cached)
        return cached

    def _remember(self, key: str, size: int, cached: CachedView) -> None:
        self._forget(key)
        self._recent[key] = (time.monotonic(), size, cached)
        self._recent_bytes += size
        while self._recent and (len(self._recent) > RECENT_VIEWS or self._recent_bytes > RECENT_VIEW_BYTES):
            self._forget(next(iter(self._recent)))

    def _forget(self, key: str) -> None:
        dropped = self._recent.pop(key, None)
        if dropped is not None:
            self._recent_bytes -= dropped[1]

    def sweep(self) -> None:
        """Drop the kept renderings past their minute (``get`` never returns them; this frees
        them, from the pool's maintenance)."""
        now = time.monotonic()
        for key in [key for key, (kept, _, _) in self._recent.items() if now - kept >= RECENT_VIEW_SECONDS]:
            self._forget(key)

    def forget_here(self, user: str) -> None:
        """Drop what this worker keeps of the user's renderings (a sign-out anywhere)."""
        mine = self.keys.message_views(user)
        for key in [key for key in self._recent if key.startswith(mine)]:
            self._forget(key)

    async def put(self, user: str, key: str, cached: CachedView) -> None:
        summary = _summary_to_json(cached.summary) if cached.summary is not None else None
        plain = orjson.dumps({"view": view_to_json(cached.view), "sender": cached.sender, "summary": summary})
        sealed = self.cipher.seal(plain, key)
        if len(sealed) > VIEW_MAX_BYTES:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, sealed, ex=VIEW_TTL_SECONDS)
            pipe.sadd(self.keys.view_index(user), key)
            pipe.expire(self.keys.view_index(user), VIEW_TTL_SECONDS)
            await pipe.execute()
        self._remember(key, len(plain), cached)


def _addresses_to_json(addresses: list[HeaderAddress]) -> list[list[str]]:
    return [[a.name, a.email] for a in addresses]


def _addresses_from_json(data: list[list[str]]) -> list[HeaderAddress]:
    return [HeaderAddress(str(name), str(email)) for name, email in data]


def _headers_to_json(h: Headers) -> dict[str, Any]:
    return {
        "all": [list(pair) for pair in h.all],
        "subject": h.subject,
        "from": _addresses_to_json(h.from_),
        "to": _addresses_to_json(h.to),
        "cc": _addresses_to_json(h.cc),
        "reply_to": _addresses_to_json(h.reply_to),
        "date": _date(h.date),
        "message_id": h.message_id,
    }


def _headers_from_json(d: dict[str, Any]) -> Headers:
    return Headers(
        all=[(str(name), str(value)) for name, value in d["all"]],
        subject=d["subject"],
        from_=_addresses_from_json(d["from"]),
        to=_addresses_from_json(d["to"]),
        cc=_addresses_from_json(d["cc"]),
        reply_to=_addresses_from_json(d["reply_to"]),
        date=_undate(d["date"]),
        message_id=d["message_id"],
    )


def _block_to_json(b: BodyBlock) -> dict[str, Any]:
    return {
        "kind": b.kind,
        "html": b.html,
        "headers": None if b.headers is None else _headers_to_json(b.headers),
        "blocks": [_block_to_json(inner) for inner in b.blocks],
    }


def _block_from_json(d: dict[str, Any]) -> BodyBlock:
    return BodyBlock(
        kind=d["kind"],
        html=d["html"],
        headers=None if d["headers"] is None else _headers_from_json(d["headers"]),
        blocks=[_block_from_json(inner) for inner in d["blocks"]],
    )


def view_to_json(view: MessageView) -> dict[str, Any]:
    return {
        "headers": _headers_to_json(view.headers),
        "blocks": [_block_to_json(b) for b in view.blocks],
        "attachments": [[a.section, a.filename, a.content_type, a.size] for a in view.attachments],
        "has_html": view.has_html,
        "has_plain_alternative": view.has_plain_alternative,
        "remote_blocked": view.remote_blocked,
        "trackers": view.trackers,
        "notices": view.notices,
    }


def view_from_json(d: dict[str, Any]) -> MessageView:
    return MessageView(
        headers=_headers_from_json(d["headers"]),
        blocks=[_block_from_json(b) for b in d["blocks"]],
        attachments=[Attachment(str(s), str(f), str(t), int(n)) for s, f, t, n in d["attachments"]],
        has_html=bool(d["has_html"]),
        has_plain_alternative=bool(d["has_plain_alternative"]),
        remote_blocked=int(d["remote_blocked"]),
        trackers=[str(t) for t in d["trackers"]],
        notices=[str(n) for n in d["notices"]],
    )


def _date(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _undate(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _summary_to_json(m: MessageSummary) -> dict[str, Any]:
    return {
        "uid": m.uid,
        "subject": m.subject,
        "from": [[a.name, a.email] for a in m.from_],
        "to": [[a.name, a.email] for a in m.to],
        "cc": [[a.name, a.email] for a in m.cc],
        "date": _date(m.date),
        "internaldate": _date(m.internaldate),
        "size": m.size,
        "flags": sorted(m.flags),
        "attachment": m.has_attachment,
        "message_id": m.message_id,
        "in_reply_to": m.in_reply_to,
        "preview": m.preview,
    }


def _summary_from_json(d: dict[str, Any]) -> MessageSummary:
    return MessageSummary(
        uid=int(d["uid"]),
        subject=d["subject"],
        from_=tuple(Address(*a) for a in d["from"]),
        to=tuple(Address(*a) for a in d["to"]),
        cc=tuple(Address(*a) for a in d["cc"]),
        date=_undate(d["date"]),
        internaldate=_undate(d["internaldate"]),
        size=int(d["size"]),
        flags=frozenset(d["flags"]),
        has_attachment=bool(d["attachment"]),
        message_id=d["message_id"],
        in_reply_to=d["in_reply_to"],
        preview=str(d.get("preview", "")),
    )


def page_to_json(page: MessagePage) -> dict[str, Any]:
    return {
        "folder": [
            page.folder.name,
            page.folder.uidvalidity,
            page.folder.exists,
            page.folder.uidnext,
            page.folder.highestmodseq,
        ],  # fmt: skip
        "total": page.total,
        "page": page.page,
        "page_size": page.page_size,
        "sort": page.sort,
        "reverse": page.reverse,
        "messages": [_summary_to_json(m) for m in page.messages],
        "threads": None
        if page.threads is None
        else [[row.summary.uid, row.depth, row.thread_size, row.thread_root] for row in page.threads],
    }


def page_from_json(d: dict[str, Any]) -> MessagePage:
    messages = tuple(_summary_from_json(m) for m in d["messages"])
    by_uid = {m.uid: m for m in messages}
    threads = (
        None
        if d["threads"] is None
        else tuple(ThreadRow(by_uid[uid], depth, size, root) for uid, depth, size, root in d["threads"])
    )
    return MessagePage(
        folder=FolderState(*d["folder"]),
        total=int(d["total"]),
        page=int(d["page"]),
        page_size=int(d["page_size"]),
        sort=d["sort"],
        reverse=bool(d["reverse"]),
        messages=messages,
        threads=threads,
    )
