"""The per-worker pool against Dovecot: no connection is ever dropped without being closed."""

from __future__ import annotations

import threading

import anyio
import pytest

from tests.conftest import MailUser, run_async
from webmail.config import Settings
from webmail.imap import pool as pool_module
from webmail.imap.pool import IMAPConnection, IMAPPool
from webmail.imap.types import Credentials


@pytest.fixture
def slow_login(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """LOGIN that waits until the test lets it finish: (started, finish)."""
    started, finish = threading.Event(), threading.Event()
    real_open = pool_module.open_client

    def open_client(settings: Settings, credentials: Credentials):  # type: ignore[no-untyped-def]
        client = real_open(settings, credentials)
        started.set()
        finish.wait(10)
        return client

    monkeypatch.setattr(pool_module, "open_client", open_client)
    return started, finish


def test_a_sign_in_during_maintenance_keeps_its_connection(
    settings: Settings, mail_user: MailUser, slow_login: tuple[threading.Event, threading.Event]
) -> None:
    started, finish = slow_login
    credentials = Credentials(mail_user.username, mail_user.password)

    async def scenario() -> None:
        pool = IMAPPool(settings)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pool.login, credentials)
            await anyio.to_thread.run_sync(started.wait, 10)
            await pool.close_idle(0)  # the maintenance round runs while LOGIN is in flight
            finish.set()
        assert pool.connections_of(mail_user.username) == 1
        assert await pool.run(credentials, _capabilities)
        await pool.close_all()
        assert len(pool) == 0

    run_async(scenario)


def _capabilities(connection: IMAPConnection) -> bool:
    return b"IMAP4REV1" in connection.client.capabilities()
