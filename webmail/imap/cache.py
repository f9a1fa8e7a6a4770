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

import json
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from webmail.imap.types import Address, FolderState, MessagePage, MessageSummary, ThreadRow
from webmail.redis import Keys

PAGE_TTL_SECONDS = 600


class Cipher(Protocol):
    """How cached data is sealed: ``auth.crypto.ServerCipher`` (imap does not import auth)."""

    def seal(self, plain: bytes, bound_to: str) -> bytes: ...

    def open(self, blob: bytes, bound_to: str) -> bytes | None: ...

    def tag(self, text: str) -> str: ...


class PageCache:
    def __init__(self, redis: Redis, prefix: str, cipher: Cipher) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.cipher = cipher

    def key(self, user: str, folder: str, uidvalidity: int, state: int | str, variant: str) -> str:
        """``state`` is the folder's HIGHESTMODSEQ or, without CONDSTORE, its UIDNEXT and count;
        ``variant`` (sort, page, a search's text...) may be any text: it is hashed like the folder."""
        return self.keys.page(user, self.cipher.tag(folder), uidvalidity, state, self.cipher.tag(variant))

    async def _load(self, key: str) -> Any:
        blob = await self.redis.get(key)
        plain = self.cipher.open(blob, key) if isinstance(blob, bytes) else None
        return None if plain is None else json.loads(plain)

    def _sealed(self, key: str, data: Any) -> bytes:
        return self.cipher.seal(json.dumps(data, separators=(",", ":")).encode(), key)

    async def get(self, key: str) -> MessagePage | None:
        try:
            data = await self._load(key)
            return None if data is None else page_from_json(data)
        except (ValueError, KeyError, TypeError):
            return None

    async def put(self, user: str, key: str, page: MessagePage) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, self._sealed(key, page_to_json(page)), ex=PAGE_TTL_SECONDS)
            pipe.sadd(self.keys.page_index(user), key)
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
        """Delete every cached page of the user (sign-out)."""
        keys = await self.redis.smembers(self.keys.page_index(user))
        if keys:
            await self.redis.delete(*keys)
        await self.redis.delete(self.keys.page_index(user))


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
