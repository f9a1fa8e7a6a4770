"""GET /events: the user's live events (``webmail/events.py``) as Server-Sent Events."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import aclosing

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from redis.asyncio import Redis
from sse_starlette import EventSourceResponse

from webmail.errors import WebmailError
from webmail.events import Event, MailboxChanged, SessionExpired, encode, subscribe
from webmail.imap.types import Credentials
from webmail.redis import create_redis
from webmail.web.deps import ServicesDep, SessionDep
from webmail.web.observe import EVENT_STREAMS

router = APIRouter()

HEARTBEAT_SECONDS = 10
STREAM_TTL_MS = 30_000


def _message(event: Event) -> dict[str, str]:
    return {"event": event.name, "data": encode(event)}


@router.get("/events")
async def events(request: Request, services: ServicesDep, session: SessionDep) -> EventSourceResponse:
    credentials = Credentials(session.user, session.password, session.client_ip)
    user = session.user
    stream = secrets.token_hex(8)
    keys = services.sessions.keys
    session_key = keys.session(session.sid)

    async def register(redis: Redis) -> int:
        """Keep this stream listed for another STREAM_TTL_MS; how many of the user's are open."""
        seconds, micros = await redis.time()
        now = seconds * 1000 + micros // 1000
        async with redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(keys.event_streams(user), 0, now)
            pipe.zadd(keys.event_streams(user), {stream: now + STREAM_TTL_MS})
            pipe.expire(keys.event_streams(user), STREAM_TTL_MS // 1000 * 2)
            pipe.zcard(keys.event_streams(user))
            *_, count = await pipe.execute()
        return int(count)

    limit = services.settings.max_event_streams_per_user
    if await register(services.redis) > limit:
        await services.redis.zrem(keys.event_streams(user), stream)
        raise WebmailError(
            f"Live updates are on in {limit} windows already; close one, or reload this page later.",
            status_code=429,
        )

    # The page's folder state, so changes between rendering it and this stream are not lost.
    seen_state = request.query_params.get("since", "")

    async def current_state(redis: Redis) -> str:
        value = await redis.get(keys.mailbox_state(user))
        return value.decode() if isinstance(value, bytes) else str(value or "")

    async def generate() -> AsyncIterator[dict[str, str]]:
        nonlocal seen_state
        beat = 0.0
        opened = False
        EVENT_STREAMS.inc()
        # The stream's own client: its subscription and its commands every second would grow the
        # shared pool by one idle connection per stream ever open at once; these close with it.
        redis = create_redis(services.settings)
        try:
            async with aclosing(subscribe(redis, keys, user)) as live:
                async for event in live:
                    if event is not None and not isinstance(event, SessionExpired):
                        if isinstance(event, MailboxChanged):
                            seen_state = await current_state(redis)
                        yield _message(event)
                    state = await current_state(redis)
                    if state and state != seen_state:
                        first = not seen_state
                        seen_state = state
                        if not first:
                            yield _message(MailboxChanged(()))
                    # A session of this user ended somewhere: if it was this one, say so now.
                    if isinstance(event, SessionExpired) or anyio.current_time() - beat > HEARTBEAT_SECONDS:
                        beat = anyio.current_time()
                        if not await redis.exists(session_key):
                            yield _message(SessionExpired())
                            return
                        await register(redis)
                        await anyio.to_thread.run_sync(services.watchers.ensure, credentials)
                    if not opened:
                        # The first bytes, once subscribed: nginx over HTTP/2 passes the response
                        # on only with some, so the browser's EventSource opens now, not at the ping.
                        opened = True
                        yield {"comment": "subscribed"}
        finally:
            EVENT_STREAMS.dec()
            with anyio.CancelScope(shield=True):
                try:
                    await redis.zrem(keys.event_streams(user), stream)
                finally:
                    await redis.aclose()

    return EventSourceResponse(generate(), ping=15, send_timeout=30)
