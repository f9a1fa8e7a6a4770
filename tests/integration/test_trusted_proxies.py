"""The client's address and scheme come from X-Forwarded-For / X-Forwarded-Proto only when a trusted
proxy sent them (WEBMAIL_TRUSTED_PROXIES), tested both ways through the real nginx: the session,
the sign-in limits and the IMAP ID x-originating-ip that Dovecot logs use that address, and cookies
are Secure when the browser came over https."""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import Iterator

import httpx2 as httpx
import pytest
import redis

from tests.conftest import LOGIN_TOKEN, ROOT_PATH, MailUser, ProxiedApp, behind_nginx, make_settings
from webmail.auth.ratelimit import network_of
from webmail.config import Settings
from webmail.devservices import DevServices, Dovecot
from webmail.devservices.dovecot import start_dovecot
from webmail.redis import Keys

BROWSER = "127.0.0.2"  # the person's machine: nginx and the app see connections from this address
FORGED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def dovecot(services: DevServices) -> Iterator[Dovecot]:
    """A Dovecot that believes the webmail's IMAP ID (login_trusted_networks) and logs it as rip."""
    started = start_dovecot(
        services.root / f"dovecot-trusting-{uuid.uuid4().hex[:8]}", trusted_networks="127.0.0.1/32"
    )
    try:
        yield started
    finally:
        started.stop()


def app_settings(services: DevServices, dovecot: Dovecot, database_url: str, proxies: list[str]) -> Settings:
    return make_settings(
        services, database_url, imap_port=dovecot.imap_port, sieve_port=dovecot.sieve_port,
        root_path=ROOT_PATH, trusted_proxies=proxies,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trusting(services: DevServices, dovecot: Dovecot, database_url: str) -> Iterator[ProxiedApp]:
    settings = app_settings(services, dovecot, database_url, ["127.0.0.1"])
    with behind_nginx(settings, services.root / f"nginx-{uuid.uuid4().hex[:8]}") as app:
        yield app


@pytest.fixture(scope="module")
def distrusting(services: DevServices, dovecot: Dovecot, database_url: str) -> Iterator[ProxiedApp]:
    settings = app_settings(services, dovecot, database_url, [])
    with behind_nginx(settings, services.root / f"nginx-{uuid.uuid4().hex[:8]}") as app:
        yield app


@pytest.fixture
def user(dovecot: Dovecot) -> MailUser:
    return MailUser(dovecot.new_user("pw-proxy"), "pw-proxy")


def browser(base: str, app: ProxiedApp) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(app.nginx.certificate))
    transport = httpx.HTTPTransport(local_address=BROWSER, verify=context)
    return httpx.Client(base_url=base, transport=transport, follow_redirects=False, timeout=30)


def sign_in(client: httpx.Client, user: MailUser, password: str | None = None) -> httpx.Response:
    token = LOGIN_TOKEN.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    form = {"username": user.username, "password": password or user.password, "csrf_token": token}
    return client.post("/login", data=form, headers=FORGED)


def seen_as(app: ProxiedApp, dovecot: Dovecot, user: MailUser, response: httpx.Response) -> tuple[str, str]:
    """The client address the app stored in the session, and the one Dovecot logged for the login."""
    sid = response.cookies["wm_session"].split(".")[0]
    with redis.Redis.from_url(app.settings.redis_url) as client:
        stored = client.hget(Keys(app.settings.redis_prefix).session(sid), "ip")
    logins = re.findall(
        rf"imap-login: Info: Login: user=<{re.escape(user.username)}>.*?rip=([\d.]+)", dovecot.log()
    )
    return (stored or b"").decode(), logins[-1]


def failures_counted_for(app: ProxiedApp, address: str) -> bool:
    with redis.Redis.from_url(app.settings.redis_url) as client:
        return bool(client.exists(Keys(app.settings.redis_prefix).login_failures_ip(network_of(address))))


def test_through_a_trusted_nginx(trusting: ProxiedApp, dovecot: Dovecot, user: MailUser) -> None:
    with browser(trusting.url, trusting) as client:
        response = sign_in(client, user)
        assert response.status_code == 303
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("wm_session="))
        assert "Secure" in cookie  # nginx said https
        # nginx replaced the browser's own X-Forwarded-For with the address it saw.
        assert seen_as(trusting, dovecot, user, response) == (BROWSER, BROWSER)
    with browser(trusting.url, trusting) as stranger:
        assert sign_in(stranger, user, "wrong").status_code == 401
    assert failures_counted_for(trusting, BROWSER)
    assert not failures_counted_for(trusting, "203.0.113.9")
    assert not failures_counted_for(trusting, "127.0.0.1")


def test_through_an_nginx_the_app_does_not_trust(
    distrusting: ProxiedApp, dovecot: Dovecot, user: MailUser
) -> None:
    with browser(distrusting.url, distrusting) as client:
        response = sign_in(client, user)
        assert response.status_code == 303
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("wm_session="))
        assert "Secure" not in cookie  # what nginx says is not believed: the app spoke plain HTTP
        assert "strict-transport-security" not in response.headers
        assert seen_as(distrusting, dovecot, user, response) == ("127.0.0.1", "127.0.0.1")  # nginx itself
    with browser(distrusting.url, distrusting) as stranger:
        assert sign_in(stranger, user, "wrong").status_code == 401
    assert failures_counted_for(distrusting, "127.0.0.1")
    assert not failures_counted_for(distrusting, BROWSER)


def test_forged_headers_straight_to_the_app(trusting: ProxiedApp, dovecot: Dovecot, user: MailUser) -> None:
    with browser(
        trusting.direct + ROOT_PATH, trusting
    ) as client:  # around nginx, from a machine it does not trust
        response = sign_in(client, user)
        assert response.status_code == 303
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("wm_session="))
        assert "Secure" not in cookie
        assert seen_as(trusting, dovecot, user, response) == (BROWSER, BROWSER)
