"""The mailbox watcher: the new-mail notification names the messages that came (the mailboxes have
UID gaps, so sequence numbers are no UIDs), on both servers, and a server without IDLE is polled."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from redis import Redis

from tests.conftest import IMAPServer, MailUser, make_settings
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.devservices.dovecot import COURIER_CAPABILITY, Dovecot, start_dovecot
from webmail.events import NewMail, NewMessage, decode
from webmail.imap.types import Credentials
from webmail.imap.watch import Watchers
from webmail.redis import Keys


def new_mail_seen(settings: Settings, user: MailUser, imap_port: int) -> tuple[NewMessage, ...]:
    """Start the user's watcher, deliver two messages once it watches, and return what its
    new-mail event named."""
    redis = Redis.from_url(settings.redis_url)
    keys = Keys(settings.redis_prefix)
    seconds, _ = redis.time()
    redis.zadd(keys.event_streams(user.username), {"test-stream": (seconds + 60) * 1000})  # someone listens
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.events_channel(user.username))
    watchers = Watchers(settings, poll_seconds=0.3)
    imap = IMAPClient("127.0.0.1", imap_port, ssl=False)
    imap.login(user.username, user.password)
    try:
        # An older message, and a gap in the middle: expunged ones leave their UIDs unused.
        for subject in ("Gone", "Old"):
            imap.append("INBOX", f"From: old@example.org\r\nSubject: {subject}\r\n\r\nx\r\n".encode())
        imap.select_folder("INBOX")
        imap.delete_messages(imap.search(["SUBJECT", "Gone"]))
        imap.expunge()
        assert watchers.ensure(Credentials(user.username, user.password))
        deadline = time.monotonic() + 10
        while not redis.exists(keys.mailbox_state(user.username)):  # its first look at the mailbox
            assert time.monotonic() < deadline, "the watcher did not start"
            time.sleep(0.05)
        for sender, subject in (("Ann <ann@example.org>", "First new"), ("bob@example.org", "Second new")):
            imap.append("INBOX", f"From: {sender}\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())
        while time.monotonic() < deadline + 10:
            message = pubsub.get_message(timeout=0.5)
            event = decode(message["data"]) if message else None
            if isinstance(event, NewMail):
                return event.messages
        raise AssertionError("no new-mail event")
    finally:
        imap.logout()
        watchers.stop_all()
        pubsub.close()
        redis.close()


@pytest.mark.both_servers
def test_the_notification_names_the_new_messages(
    settings: Settings, mail_user: MailUser, imap_server: IMAPServer
) -> None:
    seen = new_mail_seen(settings, mail_user, imap_server.dovecot.imap_port)
    assert seen == (NewMessage("Ann", "First new"), NewMessage("bob@example.org", "Second new"))


@pytest.fixture(scope="module")
def dovecot_without_idle() -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="webmail-noidle-"))
    root.chmod(0o755)
    dovecot = start_dovecot(
        root / "dovecot", flavour="courier", imap_capability=COURIER_CAPABILITY.replace(" IDLE", "")
    )
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_a_server_without_idle_is_polled(
    services: DevServices, database_url: str, dovecot_without_idle: Dovecot
) -> None:
    user = MailUser(dovecot_without_idle.new_user("pw"), "pw")
    settings = make_settings(services, database_url, imap_port=dovecot_without_idle.imap_port)
    seen = new_mail_seen(settings, user, dovecot_without_idle.imap_port)
    assert [message.subject for message in seen] == ["First new", "Second new"]
    assert not any(command.startswith("IDLE") for command in dovecot_without_idle.commands(user.username))
