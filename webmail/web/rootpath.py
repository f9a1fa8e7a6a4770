"""Serving under a sub-path (``WEBMAIL_ROOT_PATH``, e.g. ``/webmail`` behind nginx)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RootPathMiddleware:
    """Sets the ASGI ``root_path``, from which every URL the app writes starts (``web.templating.url``,
    cookie paths, redirects). Requests match their routes with or without the prefix in their path:
    nginx passes ``/webmail/mail/INBOX`` on unchanged, a test client may ask for ``/mail/INBOX``."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["root_path"] = self.root_path
        await self.app(scope, receive, send)
