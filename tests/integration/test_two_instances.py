"""Two app instances on their own ports, sharing one PostgreSQL and one Redis, serve one user
alternately: whatever one wrote, the other reads; signing out on one ends the session on both."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.conftest import SESSION_TOKEN, MailUser, make_settings, serve_in_thread
from webmail.account.preferences import PREFERENCES_TTL_SECONDS
from webmail.devservices import DevServices


@pytest.fixture(scope="module")
def instances(services: DevServices, postgres_database_url: str) -> Iterator[tuple[str, str]]:
    settings = make_settings(services, postgres_database_url)  # one Redis prefix and secret key for both
    with serve_in_thread(settings) as first, serve_in_thread(settings) as second:
        yield first, second


def token(client: httpx.Client, base: str) -> str:
    match = SESSION_TOKEN.search(client.get(f"{base}/mail/INBOX").text)
    assert match, "no session token: signed out?"
    return match.group(1)


def test_one_user_alternating_between_instances(instances: tuple[str, str], mail_user: MailUser) -> None:
    first, second = instances
    with httpx.Client(follow_redirects=False, timeout=30) as client:  # cookies go to both ports
        login = client.get(f"{first}/login")
        login_token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        signed = client.post(
            f"{first}/login",
            data={"username": mail_user.username, "password": mail_user.password, "csrf_token": login_token},
        )
        assert signed.status_code == 303

        statuses = []
        for base in (second, first, second, first):
            statuses.append(client.get(f"{base}/mail/INBOX").status_code)
            statuses.append(client.get(f"{base}/settings").status_code)
        assert statuses == [200] * 8

        saved = client.post(
            f"{second}/settings", data={"csrf_token": token(client, second), "page_size": "37"}
        )
        assert saved.status_code == 303
        # The other instance keeps preferences for PREFERENCES_TTL_SECONDS before reading them again.
        deadline = time.monotonic() + PREFERENCES_TTL_SECONDS + 2
        while 'value="37"' not in client.get(f"{first}/settings").text:
            assert time.monotonic() < deadline, "the other instance never saw the saved settings"
            time.sleep(0.5)

        contact = client.post(
            f"{first}/contacts",
            data={
                "csrf_token": token(client, first),
                "name": "Shared Person",
                "emails": "shared@example.org",
            },
        )
        assert contact.status_code in (200, 303), contact.text[:300]
        assert "Shared Person" in client.get(f"{second}/contacts").text

        out = client.post(f"{second}/logout", data={"csrf_token": token(client, first)})
        assert out.status_code == 303
        assert client.get(f"{first}/mail/INBOX").headers["location"].endswith("/login")
