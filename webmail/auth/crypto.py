"""Encrypting the IMAP password kept for a session.

The AES-GCM key is derived (HKDF-SHA256) from a random half stored only in the user's
cookie, salted with the server secret: a Redis dump, the cookie or the server secret
alone cannot recover the password. The user name is the associated data, so a
ciphertext cannot be moved to another account.

Secrets that background jobs need while nobody is signed in (an external POP3 password, the
IMAP password a user agreed to store) can only be sealed with the server secret: ``seal``.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
COOKIE_KEY_BYTES = 32


class DecryptionError(Exception):
    """Raised when a ciphertext does not decrypt with the given key halves."""


def new_cookie_key() -> bytes:
    return secrets.token_bytes(COOKIE_KEY_BYTES)


def _derive(cookie_key: bytes, server_secret: str, context: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=server_secret.encode(),
        info=b"imap-pw:" + context.encode(),
    )
    return hkdf.derive(cookie_key)


def encrypt_password(password: str, *, cookie_key: bytes, server_secret: str, sid: str, user: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    key = _derive(cookie_key, server_secret, sid)
    return nonce + AESGCM(key).encrypt(nonce, password.encode(), user.encode())


def decrypt_password(blob: bytes, *, cookie_key: bytes, server_secret: str, sid: str, user: str) -> str:
    key = _derive(cookie_key, server_secret, sid)
    try:
        plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], user.encode())
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError() from exc
    return plain.decode()


@lru_cache(maxsize=32)
def _server_key(server_secret: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"server-key:" + purpose.encode())
    return hkdf.derive(server_secret.encode())


class ServerCipher:
    """AES-GCM and HMAC under the server key for one purpose (HKDF from ``WEBMAIL_SECRET_KEY``):
    for what is kept while nobody is signed in, and for what Redis caches."""

    def __init__(self, server_secret: str, purpose: str) -> None:
        self._aead = AESGCM(_server_key(server_secret, purpose))
        self._mac_key = _server_key(server_secret, purpose + ":mac")

    def seal(self, plain: bytes, bound_to: str) -> bytes:
        """Encrypt; ``bound_to`` is the associated data, so a ciphertext moved elsewhere (another
        row, another Redis key) does not decrypt."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, bound_to.encode())

    def open(self, blob: bytes, bound_to: str) -> bytes | None:
        """The plain bytes, or None if ``blob`` was not sealed for ``bound_to`` with this key."""
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], bound_to.encode())
        except (InvalidTag, ValueError):
            return None

    def tag(self, text: str) -> str:
        """A keyed hash of ``text`` (hex): names it in a key or cookie without revealing it."""
        return hmac.digest(self._mac_key, text.encode(), "sha256").hex()


def seal(plain: str, *, server_secret: str, purpose: str, bound_to: str) -> bytes:
    """Encrypt with the server key alone (stored secrets for background jobs); ``bound_to`` is
    the associated data, so a ciphertext copied to another row does not decrypt."""
    return ServerCipher(server_secret, purpose).seal(plain.encode(), bound_to)


def unseal(blob: bytes, *, server_secret: str, purpose: str, bound_to: str) -> str:
    plain = ServerCipher(server_secret, purpose).open(blob, bound_to)
    if plain is None:
        raise DecryptionError()
    return plain.decode()


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
