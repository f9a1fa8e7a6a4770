"""`webmail sessions list|revoke` and `webmail users export-settings` against the real Redis,
database and Dovecot behind a running app."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx2 as httpx
import pytest

from tests.conftest import MailUser, make_settings, process_env, serve_in_thread, session_token, sign_in
from webmail.config import Settings
from webmail.devservices import DevServices


def webmail(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webmail.cli", *args],
        capture_output=True,
        text=True,
        env=process_env(settings),
        timeout=60,
    )


def browser(base: str, user: MailUser) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    assert sign_in(client, user).status_code == 303  # type: ignore[arg-type]
    return client


def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def friend(services: DevServices) -> MailUser:
    return MailUser(services.dovecot.new_user("pw-friend"), "pw-friend")


@pytest.fixture
def own_settings(services: DevServices, database_url: str) -> Settings:
    return make_settings(services, database_url)  # a Redis prefix of its own: only these sessions


def test_list_and_revoke_sessions(
    own_settings: Settings, services: DevServices, mail_user: MailUser, friend: MailUser
) -> None:
    with serve_in_thread(own_settings) as base:
        laptop, phone, other = browser(base, mail_user), browser(base, mail_user), browser(base, friend)
        assert laptop.get("/mail/INBOX").status_code == 200  # an IMAP connection in the pool

        listed = webmail(own_settings, "sessions", "list")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count(mail_user.username) == 2
        assert friend.username in listed.stdout
        assert listed.stdout.rstrip().endswith("3 sessions")
        assert laptop.cookies["wm_session"].split(".")[0] not in listed.stdout  # only the id's start
        assert mail_user.password not in listed.stdout
        mine = webmail(own_settings, "sessions", "list", mail_user.username.upper())  # as typed at sign-in
        assert mine.stdout.rstrip().endswith("2 sessions")
        assert friend.username not in mine.stdout

        expired = threading.Event()

        def listen() -> None:
            try:
                with phone.stream("GET", "/events") as response:
                    for line in response.iter_lines():
                        if line == "event: expired":
                            expired.set()
                            return
            except httpx.HTTPError:
                pass

        threading.Thread(target=listen, daemon=True).start()
        wait_until(lambda: services.dovecot.connections(mail_user.username) >= 1)

        revoked = webmail(own_settings, "sessions", "revoke", mail_user.username)
        assert revoked.returncode == 0, revoked.stderr
        assert f"Signed {mail_user.username} out of 2 sessions" in revoked.stdout
        assert expired.wait(10), "the open page was not told"
        for client in (laptop, phone):
            assert client.get("/mail/INBOX").headers["location"].endswith("/login")
        assert other.get("/mail/INBOX").status_code == 200  # nobody else
        wait_until(lambda: services.dovecot.connections(mail_user.username) == 0)
        assert (
            webmail(own_settings, "sessions", "list", mail_user.username)
            .stdout.rstrip()
            .endswith("0 sessions")
        )
        for client in (laptop, phone, other):
            client.close()


def test_export_settings(own_settings: Settings, mail_user: MailUser) -> None:
    with serve_in_thread(own_settings) as base:
        client = browser(base, mail_user)
        saved = client.post("/settings", data={"csrf_token": session_token(client), "page_size": "75"})  # type: ignore[arg-type]
        assert saved.status_code == 303
        identity = client.post(
            "/settings/identities",
            data={"csrf_token": session_token(client), "name": "Ann Example", "email": mail_user.username,  # type: ignore[arg-type]
                  "signature_text": "-- \nAnn"},
        )  # fmt: skip
        assert identity.status_code == 303, identity.text[:300]
        client.close()

    exported = webmail(own_settings, "users", "export-settings", mail_user.username)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["user"] == mail_user.username
    assert document["preferences"]["page_size"] == 75
    assert [(i["name"], i["email"], i["signature_text"]) for i in document["identities"]] == [
        ("Ann Example", mail_user.username, "-- \nAnn")
    ]
    assert document["pop3_accounts"] == []
    assert mail_user.password not in exported.stdout

    unknown = webmail(own_settings, "users", "export-settings", "nobody@example.org")
    assert unknown.returncode == 1
    assert "nobody@example.org has never signed in here" in unknown.stderr
