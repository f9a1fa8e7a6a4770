"""The installable app and its offline copy: the per-user key, the static files' version, the manifest.

The service worker (static/sw.js) keeps a signed-in user's recent mail on the device under an
opaque key from here (an HMAC of the login with the server's secret: never the password, and
useless to anyone who reads the device's storage). Pages carry the key so that the worker files
what it saves under the right user, and forgets everything else.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache, lru_cache
from typing import Any

from fastapi import Request

from webmail.config import PROJECT_ROOT

STATIC_DIR = PROJECT_ROOT / "static"
OFFLINE_KEY_HEADER = "X-Offline-Key"
OFFLINE_COPY_HEADER = "X-Offline-Copy"  # the worker's own requests, made in the background
# What the worker keeps for starting without a connection; the rest of static/ is fetched on use.
SHELL_FILES = (
    "app.css",
    "app.js",
    "export.js",
    "compose.js",
    "offline.js",
    "icons.svg",
    "favicon.svg",
    "icon-192.png",
    "vendor/htmx-2.0.11.min.js",
    "vendor/htmx-ext-sse-2.2.4.min.js",
)
LIGHT_THEME, DARK_THEME = "#2456d6", "#0f1115"  # app.css: --accent (light), --bg (dark)


@lru_cache(maxsize=4096)  # every page's answer carries it: an HMAC once per user, not per request
def offline_key(secret: str, user: str) -> str:
    """The name a user's offline copy is kept under on a device."""
    return hmac.new(secret.encode(), f"offline:{user}".encode(), hashlib.sha256).hexdigest()[:32]


def request_offline_key(request: Request) -> str | None:
    """The key of the request's signed-in user (the session a dependency loaded), else None."""
    session = getattr(request.state, "session", None)
    if session is None:
        return None
    secret: str = request.app.state.services.settings.secret_key.get_secret_value()
    return offline_key(secret, session.user)


@cache
def static_version() -> str:
    """One version for all of static/: a new release gives the worker new caches."""
    digest = hashlib.sha256()
    for file in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(file.relative_to(STATIC_DIR).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:12]


def app_manifest(root: str) -> dict[str, Any]:
    """The web app manifest: opens in its own window at the Inbox, under the root path."""
    icon = f"{root}/static/icon"
    return {
        "id": f"{root}/mail/INBOX",
        "name": "Webmail",
        "short_name": "Mail",
        "description": "Your mail, also without a connection.",
        "start_url": f"{root}/mail/INBOX",
        "scope": f"{root}/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": LIGHT_THEME,
        "icons": [
            {"src": f"{icon}-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": f"{icon}-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {
                "src": f"{icon}-maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
