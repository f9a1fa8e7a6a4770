"""The rendered-message cache: a re-open is a cache read, never another user's or another mode's."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from redis import Redis

from tests.conftest import MailUser, session_token, sign_in
from tests.integration.test_reading import append, corpus, plain_message
from webmail.app import create_app
from webmail.config import Settings
from webmail.devservices import DevServices

READER = {"HX-Request": "true", "HX-Target": "reader"}


@pytest.fixture
def imap(services: DevServices, mail_user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    yield client
    client.logout()


@pytest.fixture
def redis(settings: Settings) -> Iterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    client.close()


def view_keys(redis: Redis, settings: Settings, user: str) -> list[bytes]:
    return list(redis.scan_iter(f"{settings.redis_prefix}:view:{user}:*"))


def html_message(subject: str, text: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Sender <sender@example.org>", "me@example.test", subject
    msg.set_content(text)
    msg.add_alternative(f"<p>{text}</p>", subtype="html")
    return bytes(msg)


def body_url(page: str) -> str:
    found = re.search(r'<iframe class="mail-body" src="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1).replace("&amp;", "&")


def test_reopen_is_served_from_the_cache_sealed(
    signed_in: TestClient, imap: IMAPClient, redis: Redis, settings: Settings, mail_user: MailUser
) -> None:
    uid = append(imap, html_message("Cache me", "The secret plans of the cache"))
    page = signed_in.get(f"/mail/INBOX/{uid}", headers=READER).text
    url = body_url(page)
    assert "uv=" in url  # the frame names the UIDVALIDITY, so a re-open needs no IMAP
    first = signed_in.get(url)
    assert "secret plans" in first.text
    keys = view_keys(redis, settings, mail_user.username)
    assert keys
    for key in keys:
        blob = redis.get(key)
        assert blob is not None
        assert b"secret" not in blob  # sealed
        assert b"Cache me" not in blob
    # The message is gone from the server; the cached rendering of that UID still answers the
    # body frame, with nothing asked of IMAP. The reader itself asks IMAP for flags and finds it gone.
    imap.select_folder("INBOX")
    imap.delete_messages([uid])
    imap.expunge()
    assert signed_in.get(url).text == first.text
    assert signed_in.get(f"/mail/INBOX/{uid}", headers=READER).status_code == 404
    uv = imap.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    # As the list links it (with the UIDVALIDITY): still asked of IMAP, still gone.
    assert signed_in.get(f"/mail/INBOX/{uid}?uv={uv}", headers=READER).status_code == 404


STAR = re.compile(r'class="icon-btn star-button" aria-pressed="(\w+)"')


def test_reopen_shows_the_current_flags(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = append(imap, plain_message("Flag me"))
    assert STAR.findall(signed_in.get(f"/mail/INBOX/{uid}", headers=READER).text) == ["false"]
    imap.select_folder("INBOX")
    imap.add_flags([uid], [b"\\Flagged"])  # elsewhere: the rendering is cached, the flags are not
    assert STAR.findall(signed_in.get(f"/mail/INBOX/{uid}", headers=READER).text) == ["true"]
    uv = imap.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    imap.remove_flags([uid], [b"\\Flagged"])
    assert STAR.findall(signed_in.get(f"/mail/INBOX/{uid}?uv={uv}", headers=READER).text) == ["false"]


def oob_row(page: str, uid: int) -> str:
    found = re.search(rf'<li [^>]*data-uid="{uid}" hx-swap-oob="[^"]*".*?</li>', page, re.S)
    assert found, page[-3000:]
    return found.group(0)


def test_opening_from_the_list_updates_the_row_with_its_preview_and_link(
    signed_in: TestClient, imap: IMAPClient
) -> None:
    """Opening an unread message marks it read and swaps its list row: the row keeps its preview
    and its link the folder's UIDVALIDITY, the first time (fetched) and again (cached view)."""
    uid = append(imap, html_message("Unread one", "The first words of the unread message"))
    uv = imap.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    for _ in range(2):
        row = oob_row(signed_in.get(f"/mail/INBOX/{uid}?uv={uv}", headers=READER).text, uid)
        assert "The first words of the unread message" in row
        assert f'href="/mail/INBOX/{uid}?uv={uv}"' in row
        assert "unseen" not in row.split(">", 1)[0]
        imap.select_folder("INBOX")
        imap.remove_flags([uid], [b"\\Seen"])  # unread again, elsewhere


def test_a_cached_message_deleted_elsewhere_is_gone(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = append(imap, plain_message("Soon gone"))
    uv = imap.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    assert signed_in.get(f"/mail/INBOX/{uid}?uv={uv}", headers=READER).status_code == 200
    imap.select_folder("INBOX")
    imap.delete_messages([uid])
    imap.expunge()
    gone = signed_in.get(f"/mail/INBOX/{uid}?uv={uv}", headers=READER)
    assert gone.status_code == 404
    assert "moved or deleted" in gone.text


def test_remote_modes_never_mix(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = append(imap, corpus("remote-images.eml"))
    uv = imap.select_folder("INBOX")[b"UIDVALIDITY"]
    # Allowed first, then blocked, then allowed again: each mode gets its own rendering.
    for remote in ("1", "", "1", ""):
        query = f"?uv={uv}" + ("&remote=1" if remote else "")
        body = signed_in.get(f"/mail/INBOX/{uid}/body{query}")
        if remote:
            assert 'src="http://127.0.0.1:9/banner.png"' in body.text
            assert "http:" in body.headers["content-security-policy"]
        else:
            assert "127.0.0.1:9" not in body.text
            assert "http:" not in body.headers["content-security-policy"]


def test_sender_allowed_after_a_blocked_rendering_was_cached(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = append(imap, corpus("remote-images.eml"))
    uv = imap.select_folder("INBOX")[b"UIDVALIDITY"]
    assert "127.0.0.1:9" not in signed_in.get(f"/mail/INBOX/{uid}/body?uv={uv}").text
    token = session_token(signed_in)
    assert signed_in.post(f"/mail/INBOX/{uid}/remote-senders", data={"csrf_token": token}).status_code == 303
    assert 'src="http://127.0.0.1:9/banner.png"' in signed_in.get(f"/mail/INBOX/{uid}/body?uv={uv}").text


def test_never_another_users_rendering(
    services: DevServices, settings: Settings, signed_in: TestClient, imap: IMAPClient, mail_user: MailUser
) -> None:
    uid = append(imap, plain_message("Private", "Only for the first user"))
    uv = imap.select_folder("INBOX")[b"UIDVALIDITY"]
    assert "Only for the first user" in signed_in.get(f"/mail/INBOX/{uid}/body?uv={uv}").text
    other = MailUser(services.dovecot.new_user("pw-other"), "pw-other")
    raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    raw.login(other.username, other.password)
    for i in range(uid):
        raw.append("INBOX", plain_message(f"Theirs {i}", "The other user's own text"))
    raw.logout()
    with TestClient(create_app(settings), follow_redirects=False, client=("127.0.0.2", 5000)) as second:
        assert sign_in(second, other).status_code == 303
        # The same folder, UID and (asked for) UIDVALIDITY: their own message, or an error.
        response = second.get(f"/mail/INBOX/{uid}/body?uv={uv}")
        assert "Only for the first user" not in response.text


def test_sign_out_forgets_the_renderings(
    signed_in: TestClient, imap: IMAPClient, redis: Redis, settings: Settings, mail_user: MailUser
) -> None:
    uid = append(imap, html_message("Forget me", "soon forgotten"))
    signed_in.get(body_url(signed_in.get(f"/mail/INBOX/{uid}", headers=READER).text))
    assert view_keys(redis, settings, mail_user.username)
    token = session_token(signed_in)
    signed_in.post("/logout", data={"csrf_token": token})
    assert not view_keys(redis, settings, mail_user.username)


def test_sign_out_forgets_the_renderings_on_every_worker(
    settings: Settings, signed_in: TestClient, imap: IMAPClient, redis: Redis, mail_user: MailUser
) -> None:
    """A worker keeps the renderings it just read or wrote (a reader's body frame follows it):
    signing out drops them there and in Redis, so a message deleted since is not shown again."""
    uid = append(imap, html_message("Read then signed out", "Kept no longer than the session"))
    uv = imap.select_folder("INBOX")[b"UIDVALIDITY"]
    url = body_url(signed_in.get(f"/mail/INBOX/{uid}?uv={uv}", headers=READER).text)
    with TestClient(create_app(settings), follow_redirects=False, client=("127.0.0.3", 5000)) as other_worker:
        assert sign_in(other_worker, mail_user).status_code == 303
        assert "Kept no longer" in other_worker.get(url).text  # now kept by that worker too
        assert view_keys(redis, settings, mail_user.username)
        assert signed_in.post("/logout", data={"csrf_token": session_token(signed_in)}).status_code == 303
        assert view_keys(redis, settings, mail_user.username) == []
        imap.delete_messages([uid])
        imap.expunge()
        for client in (signed_in, other_worker):
            if client is signed_in:
                assert sign_in(client, mail_user).status_code == 303
            deadline = time.monotonic() + 5
            while (status := client.get(url).status_code) == 200 and time.monotonic() < deadline:
                time.sleep(0.05)  # the sign-out reaches each worker through Redis
            assert status == 404


def test_highlighting_a_search_leaves_the_kept_rendering_as_it_was(
    signed_in: TestClient, imap: IMAPClient
) -> None:
    uid = append(imap, html_message("Highlighted", "find the needle here"))
    uv = imap.select_folder("INBOX")[b"UIDVALIDITY"]
    for _ in range(2):
        assert "<mark>needle</mark>" in signed_in.get(f"/mail/INBOX/{uid}/body?uv={uv}&q=needle").text
        assert "<mark>" not in signed_in.get(f"/mail/INBOX/{uid}/body?uv={uv}").text
