"""GET /events: streams register and clean up; the elected watcher stops when nobody listens."""

from __future__ import annotations

import threading
import time

import httpx2 as httpx
import pytest
import redis
from imapclient import IMAPClient

from tests.conftest import MailUser, session_token, sign_in
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.imap import watch
from webmail.redis import Keys
from webmail.web.routes.events import HEARTBEAT_SECONDS


def signed_in(live_server: str, user: MailUser) -> httpx.Client:
    client = httpx.Client(base_url=live_server, follow_redirects=False, timeout=30)
    assert sign_in(client, user).status_code == 303  # type: ignore[arg-type]
    return client


def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_stream_delivers_events_and_cleans_up(
    live_server: str,
    live_settings: Settings,
    services: DevServices,
    mail_user: MailUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watch, "STREAM_GRACE_SECONDS", 1)
    r = redis.Redis.from_url(live_settings.redis_url)
    user = mail_user.username.lower()
    streams = Keys(live_settings.redis_prefix).event_streams(user)
    lock = Keys(live_settings.redis_prefix).watcher_lock(user)
    lines: list[str] = []
    client = signed_in(live_server, mail_user)

    def listen() -> None:
        with client.stream("GET", "/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith("data:") and len(lines) > 1 and lines[-2] == "event: newmail":
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    wait_until(lambda: r.zcard(streams) == 1 and r.exists(lock))
    time.sleep(0.5)  # the watcher takes its first snapshot
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", b"From: Eve <eve@example.org>\r\nSubject: Streamed\r\n\r\nhi\r\n")
    imap.logout()
    listener.join(10)
    assert "event: mailbox" in lines
    assert any("Streamed" in line for line in lines)
    client.close()
    wait_until(lambda: r.zcard(streams) == 0)  # the disconnected stream unregistered itself
    wait_until(lambda: not r.exists(lock), timeout=15)  # and the watcher gave up its lock
    r.close()


def test_sign_out_ends_that_sessions_streams_at_once_and_no_other(
    live_server: str, live_settings: Settings, mail_user: MailUser
) -> None:
    r = redis.Redis.from_url(live_settings.redis_url)
    streams = Keys(live_settings.redis_prefix).event_streams(mail_user.username)
    leaving = signed_in(live_server, mail_user)
    staying = signed_in(live_server, mail_user)  # the same user on another device: its own session
    lines: dict[str, list[str]] = {"leaving": [], "staying": []}

    def listen(name: str, client: httpx.Client) -> None:
        with client.stream("GET", "/events") as response:
            for line in response.iter_lines():
                lines[name].append(line)
                if line == "event: expired":
                    return

    listeners = [
        threading.Thread(target=listen, args=(name, client), daemon=True)
        for name, client in (("leaving", leaving), ("staying", staying))
    ]
    for listener in listeners:
        listener.start()
    wait_until(lambda: r.zcard(streams) == 2)
    token = session_token(leaving)  # type: ignore[arg-type]
    started = time.monotonic()
    assert leaving.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
    listeners[0].join(HEARTBEAT_SECONDS)
    assert "event: expired" in lines["leaving"]
    assert time.monotonic() - started < HEARTBEAT_SECONDS / 2, "told by the event, not the next heartbeat"
    time.sleep(1.5)
    assert "event: expired" not in lines["staying"]
    assert staying.get("/mail/INBOX").status_code == 200
    assert staying.post("/logout", headers={"X-CSRF-Token": session_token(staying)}).status_code == 303  # type: ignore[arg-type]
    listeners[1].join(HEARTBEAT_SECONDS)
    assert "event: expired" in lines["staying"]
    for client in (leaving, staying):
        client.close()
    r.close()
