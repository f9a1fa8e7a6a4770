"""Regression tests for the outside security test (issue 22), one class per attack class.

Each test replays the attack through the real routes against the real servers (Dovecot, Redis,
the SMTP sink) and failed before its fix.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import select

from tests.conftest import MailUser, make_settings, session_token, sign_in
from tests.pop3server import banner_service
from webmail.app import create_app
from webmail.config import Settings
from webmail.db.models import POP3Account, POP3Run
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.pop3.jobs import FetchContext, fetch

SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 internal-build-7"


def app_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), follow_redirects=False)


@pytest.fixture
def signed_in_user(services: DevServices) -> MailUser:
    password = "pw-security"
    return MailUser(services.dovecot.new_user(password), password)


def pop3_fields(client: TestClient, **changes: str) -> dict[str, str]:
    fields = {
        "csrf_token": session_token(client),
        "host": "127.0.0.1",
        "port": "995",
        "security": "none",
        "username": "someone",
        "password": "secret",
        "folder": "Imported",
        "leave_on_server": "on",
        "only_new": "0",
        "interval_minutes": "15",
        "enabled": "on",
        "consent": "on",
    }
    fields.update(changes)
    return fields


def try_connection(client: TestClient, **changes: str) -> str:
    """Press "Test connection" on the POP3 account form."""
    response = client.post(
        "/settings/accounts/test", data=pop3_fields(client, **changes), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.text


@contextmanager
def fetch_context(settings: Settings) -> Iterator[FetchContext]:
    """What ``webmail worker`` gives a POP3 job."""
    engine = create_db_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    try:
        yield FetchContext(settings, create_sessionmaker(engine), redis)
    finally:
        redis.close()
        engine.dispose()


class TestSSRFThroughPOP3Accounts:
    """Finding 4: "Test connection" and the fetcher as a port scanner and banner grabber."""

    @pytest.fixture
    def default_settings(self, services: DevServices, database_url: str) -> Settings:
        """An installation as shipped: no operator allow-list."""
        return make_settings(
            services,
            database_url,
            pop3_allowed_hosts=[],
            pop3_allowed_ports=["110", "995"],
            pop3_allow_insecure=True,
            pop3_timeout_seconds=2,
        )

    def test_internal_addresses_and_other_ports_are_refused(
        self, default_settings: Settings, signed_in_user: MailUser
    ) -> None:
        with banner_service(SSH_BANNER) as port, app_client(default_settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            saved = client.post("/settings/accounts", data=pop3_fields(client, port=str(port)))
            assert saved.status_code == 422
            assert "only public POP3 servers" in saved.text
            assert "Only the POP3 ports 110 and 995" in saved.text
            for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "169.254.169.254", "100.64.1.1",
                         "10.1.2.3", "fd00::1"):  # fmt: skip
                assert "only public POP3 servers" in try_connection(client, host=host), host
            probe = try_connection(client, port=str(port))
            assert "Only the POP3 ports 110 and 995" in probe
            assert "SSH-2.0" not in probe

    def test_a_name_is_checked_after_resolving_it(
        self, default_settings: Settings, signed_in_user: MailUser
    ) -> None:
        name = socket.gethostname()
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 995, type=socket.SOCK_STREAM)}
        assert addresses
        assert all(a.startswith("127.") or a == "::1" for a in addresses), addresses
        with app_client(default_settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            assert "only public POP3 servers" in try_connection(client, host=name)

    def test_dns_rebinding_is_checked_on_every_connect(
        self,
        services: DevServices,
        database_url: str,
        signed_in_user: MailUser,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The operator allows Dovecot's address only; an attacker's name answers with it once
        (the check) and with another loopback address after that (the connect)."""
        source = MailUser(services.dovecot.new_user("pw-source"), "pw-source")
        settings = make_settings(
            services,
            database_url,
            pop3_allowed_hosts=["127.0.0.1/32"],
            pop3_allowed_ports=[str(services.dovecot.pop3_port)],
            pop3_allow_insecure=True,
        )
        real_getaddrinfo = socket.getaddrinfo
        answers = iter(["127.0.0.1"])

        def rebinding_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host == "pop.rebind.test":
                host = next(answers, "127.0.0.2")
            return real_getaddrinfo(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
        fields = {"host": "pop.rebind.test", "port": str(services.dovecot.pop3_port),
                  "username": source.username, "password": source.password}  # fmt: skip
        with app_client(settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            assert "Connection OK" in try_connection(client, **fields)  # went to the checked address
            assert "only public POP3 servers" in try_connection(client, **fields)  # checked again

    def test_banners_of_other_services_are_never_shown_or_stored(
        self, services: DevServices, database_url: str, signed_in_user: MailUser
    ) -> None:
        """Even where the operator allows the address and port, a non-POP3 answer is not echoed."""
        settings = make_settings(services, database_url, pop3_timeout_seconds=2)
        with banner_service(SSH_BANNER) as port, app_client(settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            probe = try_connection(client, port=str(port))
            assert "did not answer as a POP3 server does" in probe
            assert "OpenSSH" not in probe
            saved = client.post("/settings/accounts", data=pop3_fields(client, port=str(port)))
            assert saved.status_code == 303, saved.text
            account_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
            with fetch_context(settings) as context:
                outcome = fetch(context, account_id)
                assert outcome.outcome == "error"
                with context.db() as db:
                    stored = [db.get(POP3Account, account_id).last_error]  # type: ignore[union-attr]
                    stored += db.scalars(select(POP3Run.error).where(POP3Run.account_id == account_id)).all()
            assert len(stored) == 2
            assert all(text and "OpenSSH" not in text for text in stored), stored
            page = client.get(f"/settings/accounts/{account_id}").text
            assert "did not answer as a POP3 server does" in page
            assert "OpenSSH" not in page
