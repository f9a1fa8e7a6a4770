"""The offline copy's pure parts: the per-user key and the manifest (web/offline.py)."""

from __future__ import annotations

from webmail.web.offline import app_manifest, offline_key


def test_the_key_is_stable_per_user_and_secret_and_reveals_neither() -> None:
    key = offline_key("server-secret", "ann@example.org")
    assert key == offline_key("server-secret", "ann@example.org")
    assert key != offline_key("server-secret", "bo@example.org")
    assert key != offline_key("another-secret", "ann@example.org")
    assert len(key) == 32
    assert "ann" not in key


def test_the_manifest_starts_at_the_inbox_under_the_root_path() -> None:
    manifest = app_manifest("/webmail")
    assert manifest["start_url"] == manifest["id"] == "/webmail/mail/INBOX"
    assert manifest["scope"] == "/webmail/"
    assert {icon["purpose"] for icon in manifest["icons"]} == {"any", "maskable"}
