"""The live events a user's open pages receive, and the one way they travel.

Something happens for a user: the watcher (``imap/watch.py``) sees a folder change or new mail
in INBOX, a POP3 job (``pop3/jobs.py``) imports messages, the outbox (``smtp/outbox.py``) sent a
message or gave up on it, an export or import went on, or an export is ready
(``web/routes/transfer.py``, ``exports/jobs.py``), a session ended (``auth/sessions.py``). The code that knows calls
``publish`` with one of the frozen dataclasses below, which goes as JSON on the user's Redis
pub/sub channel (``Keys.events_channel``). ``GET /events`` (``web/routes/events.py``), in
whichever web worker holds the browser's stream, reads them with ``subscribe`` and sends each
as a Server-Sent Event named ``event.name`` with that same JSON as its data; the templates'
``sse:<name>`` triggers and ``static/app.js`` react to them.

A message that is not valid JSON of a known event is dropped with a log line: whoever can
write to Redis must not be able to break a stream.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal, cast

import anyio
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from webmail.redis import Keys

logger = logging.getLogger(__name__)

POP3State = Literal["running", "done"]
ExportState = Literal["running", "done", "failed", "ready"]
EXPORT_STATES = ("running", "done", "failed", "ready")


@dataclass(frozen=True)
class MailboxChanged:
    """Messages came, went or changed flags in these folders (empty: something changed, look again)."""

    name: ClassVar[str] = "mailbox"
    folders: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MailboxChanged:
        return cls(_texts(data["folders"]))


@dataclass(frozen=True)
class NewMessage:
    sender: str
    subject: str


@dataclass(frozen=True)
class NewMail:
    """The newest messages that arrived in INBOX (at most a few), for a desktop notification."""

    name: ClassVar[str] = "newmail"
    messages: tuple[NewMessage, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NewMail:
        rows = data["messages"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise TypeError("messages is not a list of objects")
        return cls(tuple(NewMessage(_text(row, "sender"), _text(row, "subject")) for row in rows))


@dataclass(frozen=True)
class POP3Progress:
    """A fetch of one external POP3 account made progress (``running``) or ended (``done``)."""

    name: ClassVar[str] = "pop3"
    account: int
    state: POP3State

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> POP3Progress:
        state = _text(data, "state")
        if state not in ("running", "done"):
            raise ValueError(f"unknown POP3 state {state!r}")
        return cls(_number(data, "account"), cast(POP3State, state))


@dataclass(frozen=True)
class OutboxResult:
    """The outbox sent a waiting message (``sent``) or gave up on it (``failed``, ``error`` says why)."""

    name: ClassVar[str] = "outbox"
    id: int
    status: str
    subject: str
    error: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboxResult:
        return cls(_number(data, "id"), _text(data, "status"), _text(data, "subject"), _text(data, "error"))


@dataclass(frozen=True)
class ExportProgress:
    """An export went on (``running``: ``done`` of ``total`` messages), ended while streamed
    (``done``), stopped (``failed``), or, in the background, is ready at ``download``.

    ``id`` is the one the page chose for its streamed download, or the background export's."""

    name: ClassVar[str] = "export"
    id: str
    done: int
    total: int
    state: ExportState
    download: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportProgress:
        state = _text(data, "state")
        if state not in EXPORT_STATES:
            raise ValueError(f"unknown export state {state!r}")
        return cls(
            _text(data, "id"), _number(data, "done"), _number(data, "total"),
            cast(ExportState, state), _text(data, "download"),
        )  # fmt: skip


@dataclass(frozen=True)
class ImportProgress:
    """An import went on: ``done`` messages of the file dealt with, ``imported`` of them added.
    ``id`` is the one the import form carried."""

    name: ClassVar[str] = "import"
    id: str
    done: int
    imported: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportProgress:
        return cls(_text(data, "id"), _number(data, "done"), _number(data, "imported"))


@dataclass(frozen=True)
class SessionExpired:
    """One of the user's sessions ended (sign-out, password rejected): each stream checks its own."""

    name: ClassVar[str] = "expired"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionExpired:
        return cls()


Event = (
    MailboxChanged | NewMail | POP3Progress | OutboxResult | ExportProgress | ImportProgress | SessionExpired
)

_DECODERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    MailboxChanged.name: MailboxChanged.from_json,
    NewMail.name: NewMail.from_json,
    POP3Progress.name: POP3Progress.from_json,
    OutboxResult.name: OutboxResult.from_json,
    ExportProgress.name: ExportProgress.from_json,
    ImportProgress.name: ImportProgress.from_json,
    SessionExpired.name: SessionExpired.from_json,
}


def encode(event: Event) -> str:
    """The event as JSON: ``{"type": <name>, <fields>...}``, on Redis and in the browser alike."""
    return json.dumps({"type": event.name, **asdict(event)}, separators=(",", ":"))


def decode(raw: str | bytes) -> Event | None:
    """The event ``encode`` made; None, with a log line, for anything unknown or malformed."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        kind = data.get("type")
        if not isinstance(kind, str) or kind not in _DECODERS:
            raise ValueError(f"unknown event type {kind!r}")
        return _DECODERS[kind](data)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        logger.warning("dropped a live event that is not one (%s): %.100r", exc, raw)
        return None


def publish(redis: SyncRedis, keys: Keys, user: str, event: Event) -> None:
    """Send ``event`` to every open page of ``user``, on any worker (blocking: threads and jobs)."""
    redis.publish(keys.events_channel(user), encode(event))


async def publish_async(redis: Redis, keys: Keys, user: str, event: Event) -> None:
    """``publish`` for code on the event loop."""
    await redis.publish(keys.events_channel(user), encode(event))


async def subscribe(
    redis: Redis, keys: Keys, user: str, tick_seconds: float = 1.0
) -> AsyncGenerator[Event | None, None]:
    """The events published for ``user`` from now on, in order.

    Yields None once subscribed (nothing published after that is missed), and again whenever
    ``tick_seconds`` pass without an event or a message was dropped, so the caller can do its
    housekeeping. Close it (``contextlib.aclosing``) to unsubscribe.
    """
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(keys.events_channel(user))
        yield None
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=tick_seconds)
            yield None if message is None else decode(message["data"])
    finally:
        with anyio.CancelScope(shield=True):
            await pubsub.aclose()  # type: ignore[no-untyped-call]


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not text")
    return value


def _number(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{key} is not a whole number")
    return value


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("not a list of text")
    return tuple(value)
