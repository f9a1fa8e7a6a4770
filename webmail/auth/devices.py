"""The signed cookie that marks a browser which signed in to an account before.

Five wrong passwords typed by anyone lock a user name for a while; that must not lock out the
owner. A browser that signed in successfully carries this cookie (an HMAC of the account's name
and the time, under a key derived from ``WEBMAIL_SECRET_KEY``; the name itself is not in it),
and the rate limiter lets it through a locked name after a growing delay instead of a 429.
"""

from __future__ import annotations

import hmac
import time

from webmail.auth.crypto import ServerCipher
from webmail.config import Settings

DEVICE_COOKIE = "wm_device"
DEVICE_MAX_AGE_SECONDS = 180 * 24 * 3600
PURPOSE = "device-cookie"


class DeviceTokens:
    def __init__(self, settings: Settings) -> None:
        self.cipher = ServerCipher(settings.secret_key.get_secret_value(), PURPOSE)

    def _tag(self, identity: str, issued: int) -> str:
        return self.cipher.tag(f"{identity}\0{issued}")

    def issue(self, identity: str) -> str:
        """The cookie value for a browser that just signed in as ``identity``."""
        issued = int(time.time())
        return f"{issued}.{self._tag(identity, issued)}"

    def recognises(self, token: str | None, identity: str) -> bool:
        """True if ``token`` was issued to a browser that signed in as ``identity`` lately."""
        issued_text, _, tag = (token or "").partition(".")
        if not issued_text.isdigit() or not tag:
            return False
        issued = int(issued_text)
        if not 0 <= time.time() - issued <= DEVICE_MAX_AGE_SECONDS:
            return False
        return hmac.compare_digest(tag.encode(), self._tag(identity, issued).encode())
