"""One log line and one latency observation per request, under a request id."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from functools import lru_cache
from typing import Any

from prometheus_client import Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webmail.logs import request_id

logger = logging.getLogger("webmail.request")

REQUEST_LATENCY = Histogram(
    "webmail_http_request_seconds",
    "Time to answer an HTTP request, by route template (streams: until they end)",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENT_STREAMS = Gauge(
    "webmail_event_streams", "Open live-update streams (/events)", multiprocess_mode="livesum"
)
# A proxy's id (nginx's $request_id) is taken when it looks like one; anything else gets a new id.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


@lru_cache(maxsize=4096)  # one per request's log line: an HMAC once per user
def user_hash(secret: str, user: str) -> str:
    """Lines of one user can be found together; the name cannot be read back from them."""
    digest = hmac.new(secret.encode(), b"log-user:" + user.encode(), hashlib.sha256).hexdigest()
    return digest[:16]


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = _route_of(scope)
            latency(route, scope["method"], status).observe(duration)
            session = scope.get("state", {}).get("session")
            client = scope.get("client")
            logger.info(
                "%s %s %s %.0f ms",
                scope["method"],
                route,
                status,
                duration * 1000,
                extra={
                    "request_id": rid,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                    "user": user_hash(self.secret, session.user) if session is not None else None,
                    "client": client[0] if client else None,
                },
            )
            request_id.reset(token)


@lru_cache(maxsize=1024)
def latency(route: str, method: str, status: int) -> Any:
    """The histogram's child for a route, method and status: found once, not on every request
    (``labels`` validates and locks each time)."""
    return REQUEST_LATENCY.labels(route=route, method=method, status=str(status))


def _route_of(scope: Scope) -> str:
    """The matched route's template (``/mail/{folder:path}``), ``/static`` for files, or
    ``(unmatched)``: never the path itself, which holds folder names and search words."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "/static/" in scope.get("path", ""):
        return "/static"
    return "(unmatched)"
