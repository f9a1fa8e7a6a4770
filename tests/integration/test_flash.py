"""Flash messages: kept in the session in Redis, shown once, never read from the URL."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import flash_of, run_async, session_token, undo_form
from tests.integration.test_cache import two_workers
from tests.integration.test_organize import imap, put
from webmail.auth.sessions import SessionStore
from webmail.config import Settings
from webmail.redis import Keys, create_redis

__all__ = ["imap", "two_workers"]

CRAFTED = {"done": "Your mailbox is locked: call +1 555 0100", "error": "Your mailbox is locked",
           "undo_uids": "1:*", "undo_from": "INBOX", "undo_to": "Trash", "undo_more": "1 Sent",
           "outbox": "1", "seconds": "30"}  # fmt: skip


def test_a_crafted_link_shows_no_text_and_no_undo(signed_in: TestClient, imap: IMAPClient) -> None:
    put(imap, "Innocent")
    for path in ("/mail/INBOX", f"/mail/INBOX/{put(imap, 'Open')}", "/contacts", "/settings/folders"):
        page = signed_in.get(f"{path}?{urlencode(CRAFTED)}").text
        assert "mailbox is locked" not in page, path
        assert 'class="toast"' not in page
        assert "/undo" not in page
        assert flash_of(page) == ""


def test_a_flash_shows_once_with_its_undo_out_of_the_url(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Once")
    moved = signed_in.post(f"/mail/INBOX/{uid}/delete", data={"csrf_token": session_token(signed_in)})
    assert moved.headers["location"] == "/mail/INBOX"  # the words and the Undo are not in the URL
    first = signed_in.get("/mail/INBOX").text
    assert flash_of(first) == "Moved to Trash."
    action, fields = undo_form(first)
    assert action == "/mail/Trash/undo"
    assert fields["to"] == ["INBOX"]
    second = signed_in.get("/mail/INBOX").text
    assert flash_of(second) == ""
    assert "/undo" not in second


def test_live_refreshes_leave_the_flash_for_the_page(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Refreshed")
    signed_in.post(f"/mail/INBOX/{uid}/archive", data={"csrf_token": session_token(signed_in)})
    for target in ("message-list", "folder-list"):
        partial = signed_in.get("/mail/INBOX", headers={"HX-Request": "true", "HX-Target": target})
        assert flash_of(partial.text) == ""
    assert flash_of(signed_in.get("/mail/INBOX").text) == "Archived."


def test_a_flash_set_on_one_worker_shows_once_on_another(
    two_workers: tuple[TestClient, TestClient], imap: IMAPClient
) -> None:
    first, second = two_workers
    uid = put(imap, "Travelling")
    first.post(f"/mail/INBOX/{uid}/junk", data={"csrf_token": session_token(first)})
    page = second.get("/mail/INBOX").text
    assert flash_of(page) == "Marked as junk."
    assert undo_form(page)[0] == "/mail/Junk/undo"
    assert flash_of(first.get("/mail/INBOX").text) == ""


def test_a_flash_never_revives_an_ended_session(settings: Settings) -> None:
    async def scenario() -> tuple[int, str | None]:
        redis = create_redis(settings)
        try:
            sessions = SessionStore(redis, settings)
            _, session = await sessions.create("someone@test", "pw", None)
            await sessions.destroy(session.sid, session.user)
            await sessions.put_flash(session.sid, '{"text": "late"}')
            exists = await redis.exists(Keys(settings.redis_prefix).session(session.sid))
            return exists, await sessions.pop_flash(session.sid)
        finally:
            await redis.aclose()

    assert run_async(scenario) == (0, None)
