"""GET /events: the user's mailbox changes as Server-Sent Events, from Redis pub/sub."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from webmail.imap.types import Credentials
from webmail.imap.watch import events_channel, state_key, streams_key
from webmail.web.deps import ServicesDep, SessionDep

router = APIRouter()

HEARTBEAT_SECONDS = 10
STREAM_TTL_MS = 30_000


@router.get("/events")
async def events(request: Request, services: ServicesDep, session: SessionDep) -> EventSourceResponse:
    settings = services.settings
    credentials = Credentials(session.user, session.password, session.client_ip)
    user = session.user.lower()
    stream = secrets.token_hex(8)
    redis = services.redis
    session_key = services.sessions.keys.session(session.sid)

    async def register() -> None:
        seconds, micros = await redis.time()
        await redis.zadd(
            streams_key(settings.redis_prefix, user),
            {stream: seconds * 1000 + micros // 1000 + STREAM_TTL_MS},
        )
        await redis.expire(streams_key(settings.redis_prefix, user), STREAM_TTL_MS // 1000 * 2)

    # The page's folder state, so changes between rendering it and this stream are not lost.
    seen_state = request.query_params.get("since", "")

    async def current_state() -> str:
        value = await redis.get(state_key(settings.redis_prefix, user))
        return value.decode() if isinstance(value, bytes) else str(value or "")

    async def generate() -> AsyncIterator[dict[str, str]]:
        nonlocal seen_state
        pubsub = redis.pubsub()
        await pubsub.subscribe(events_channel(settings.redis_prefix, user))
        try:
            beat = 0.0
            while True:
                state = await current_state()
                if state and state != seen_state:
                    first = not seen_state
                    seen_state = state
                    if not first:
                        yield {"event": "mailbox", "data": json.dumps({"folders": []})}
                if anyio.current_time() - beat > HEARTBEAT_SECONDS:
                    beat = anyio.current_time()
                    if not await redis.exists(session_key):
                        yield {"event": "expired", "data": "{}"}
                        return
                    await register()
                    await anyio.to_thread.run_sync(services.watchers.ensure, credentials)
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                event = json.loads(message["data"])
                if event.get("type") in ("pop3", "outbox"):
                    yield {"event": event["type"], "data": json.dumps(event)}
                    continue
                seen_state = await current_state()
                yield {"event": "mailbox", "data": json.dumps({"folders": event.get("folders", [])})}
                if event.get("new"):
                    yield {"event": "newmail", "data": json.dumps(event["new"])}
        finally:
            with anyio.CancelScope(shield=True):
                await redis.zrem(streams_key(settings.redis_prefix, user), stream)
                await pubsub.unsubscribe()
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    return EventSourceResponse(generate(), ping=15, send_timeout=30)
