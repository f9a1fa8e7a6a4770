from __future__ import annotations

import pytest

from webmail.auth.crypto import (
    DecryptionError,
    b64decode,
    b64encode,
    decrypt_password,
    encrypt_password,
    new_cookie_key,
)

SECRET = "server-secret-" + "x" * 32


def test_round_trip() -> None:
    key = new_cookie_key()
    blob = encrypt_password("pässwörd", cookie_key=key, server_secret=SECRET, sid="s1", user="u@x")
    assert b"p\xc3\xa4ssw" not in blob
    assert decrypt_password(blob, cookie_key=key, server_secret=SECRET, sid="s1", user="u@x") == "pässwörd"


@pytest.mark.parametrize(
    ("cookie_key", "secret", "sid", "user"),
    [
        (b"\x00" * 32, SECRET, "s1", "u@x"),  # wrong cookie half
        (None, "another-secret-" + "y" * 32, "s1", "u@x"),  # wrong server secret
        (None, SECRET, "s2", "u@x"),  # moved to another session
        (None, SECRET, "s1", "other@x"),  # moved to another account
    ],
)
def test_any_wrong_half_fails(cookie_key: bytes | None, secret: str, sid: str, user: str) -> None:
    key = new_cookie_key()
    blob = encrypt_password("pw", cookie_key=key, server_secret=SECRET, sid="s1", user="u@x")
    with pytest.raises(DecryptionError):
        decrypt_password(blob, cookie_key=cookie_key or key, server_secret=secret, sid=sid, user=user)


def test_nonce_is_fresh_each_time() -> None:
    key = new_cookie_key()
    first = encrypt_password("pw", cookie_key=key, server_secret=SECRET, sid="s", user="u")
    second = encrypt_password("pw", cookie_key=key, server_secret=SECRET, sid="s", user="u")
    assert first != second


def test_b64_without_padding_round_trips() -> None:
    raw = new_cookie_key()
    text = b64encode(raw)
    assert "=" not in text
    assert b64decode(text) == raw
