"""Flash messages: words for the next page, shown once, kept in the user's session in Redis.

Never in the URL, so no link can make the app show text of its choosing or offer an Undo.
What an Undo button posts (the messages' new UIDs, or the waiting outbox entry) travels
inside the flash too.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from webmail.auth.sessions import Session
from webmail.web.deps import get_services
from webmail.web.offline import OFFLINE_COPY_HEADER


@dataclass(frozen=True)
class UndoMove:
    """The Undo form of a move: POST ``/mail/{folder}/undo`` with ``uids``, ``to`` and ``more``.

    ``folder`` and ``uids`` are where the messages are now; each of ``more`` is another folder
    the same action filled, as ``"<uids> <folder>"``.
    """

    folder: str
    uids: str
    to: str
    more: tuple[str, ...] = ()


@dataclass(frozen=True)
class UndoSend:
    """The Undo form of a message waiting in the outbox: POST ``/compose/outbox/{id}/undo``."""

    outbox_id: int


@dataclass(frozen=True)
class Flash:
    text: str
    error: bool = False
    seconds: int | None = None  # how long the toast stays, when not the usual
    undo_move: UndoMove | None = None
    undo_send: UndoSend | None = None
    undo_discard: dict[str, str] | None = None  # the discarded compose form, posted back by Undo


_FLASH = TypeAdapter(Flash)


async def flash(
    request: Request,
    text: str,
    *,
    error: bool = False,
    seconds: int | None = None,
    undo_move: UndoMove | None = None,
    undo_send: UndoSend | None = None,
    undo_discard: dict[str, str] | None = None,
) -> None:
    """Show ``text`` on the signed-in user's next page, once."""
    session: Session | None = getattr(request.state, "session", None)
    if session is None:
        return
    message = Flash(text, error, seconds, undo_move, undo_send, undo_discard)
    await get_services(request).sessions.put_flash(session.sid, _FLASH.dump_json(message).decode())


async def take_flash(request: Request) -> Flash | None:
    """The message waiting for this page, if any; taking it removes it."""
    session: Session | None = getattr(request.state, "session", None)
    if session is None or request.headers.get(OFFLINE_COPY_HEADER):
        return None  # the service worker's copy of a page: the message is for the person
    payload = await get_services(request).sessions.pop_flash(session.sid)
    if payload is None:
        return None
    try:
        return _FLASH.validate_json(payload)
    except ValidationError:
        return None  # written by an older version: not worth an error page
