"""The POP3 fetch engine against Dovecot's POP3 (the source) and IMAP (the target)."""

from __future__ import annotations

import ipaddress
import poplib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime

import pytest
from imapclient import IMAPClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import MailUser
from webmail.db.models import POP3Account, utcnow
from webmail.db.repos import UserRepository
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices
from webmail.devservices.system import free_port
from webmail.imap.importer import FolderTarget
from webmail.pop3.client import POP3Server
from webmail.pop3.destination import Destinations
from webmail.pop3.errors import POP3AuthError, POP3ConnectError
from webmail.pop3.fetcher import FetchOptions, fetch_account
from webmail.pop3.state import DatabaseState

# Dovecot and the refused port are on loopback, which the SSRF guard only allows when told to.
LOOPBACK = Destinations(frozenset(), (ipaddress.ip_network("127.0.0.0/8"),), ((1, 65535),))


def source_message(i: int, *, days_ago: int = 3, size: int = 0, message_id: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = f"Sender {i} <s{i}@external.example>", "me@external.example"
    msg["Subject"] = f"External {i} – Grüße"
    msg["Date"] = format_datetime(datetime(2026, 11, 1, 9, 30, tzinfo=UTC) - timedelta(days=days_ago + i))
    if message_id:
        msg["Message-ID"] = make_msgid(idstring=f"ext{i}.{secrets.token_hex(4)}", domain="external.example")
    msg.set_content(f"Message {i}\n" + "line of text\n" * (size // 13))
    return bytes(msg).replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


@dataclass
class Rig:
    source: MailUser
    target: MailUser
    server: POP3Server
    db: sessionmaker[Session]
    account_id: int
    services: DevServices

    def put(self, raw: bytes) -> None:
        client = IMAPClient("127.0.0.1", self.services.dovecot.imap_port, ssl=False)
        client.login(self.source.username, self.source.password)
        client.append("INBOX", raw)
        client.logout()

    def on_server(self) -> int:
        pop = poplib.POP3("127.0.0.1", self.services.dovecot.pop3_port, timeout=10)
        pop.user(self.source.username)
        pop.pass_(self.source.password)
        count = pop.stat()[0]
        pop.quit()
        return count

    def imap(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", self.services.dovecot.imap_port, ssl=False)
        client.login(self.target.username, self.target.password)
        client.normalise_times = False
        return client

    def run(self, options: FetchOptions, target: object | None = None, state: object | None = None):  # type: ignore[no-untyped-def]
        client = self.imap()
        try:
            return fetch_account(
                self.server,
                options,
                state or DatabaseState(self.db, self.account_id),  # type: ignore[arg-type]
                target or FolderTarget(client, "Imported"),  # type: ignore[arg-type]
            )
        finally:
            client.logout()

    def imported(self) -> dict[bytes, object]:
        client = self.imap()
        client.select_folder("Imported")
        data = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])
        client.logout()
        return {row[b"BODY[]"]: row for row in data.values()}


@pytest.fixture
def rig(services: DevServices, mail_user: MailUser, database_url: str) -> Iterator[Rig]:
    source = MailUser(services.dovecot.new_user("pw-src"), "pw-src")
    engine = create_db_engine(database_url)
    db = create_sessionmaker(engine)
    with db.begin() as session:
        user = UserRepository(session).get_or_create(mail_user.username, "127.0.0.1")
        account = POP3Account(user_id=user.id, host="127.0.0.1", port=services.dovecot.pop3_port, security="none",
                              username=source.username, password_encrypted=b"-", folder="Imported",
                              leave_on_server=True, only_new=False, mark_read=False, interval_minutes=15,
                              enabled=True, has_run=False, created_at=utcnow())  # fmt: skip
        session.add(account)
        session.flush()
        account_id = account.id
    server = POP3Server(
        "127.0.0.1",
        services.dovecot.pop3_port,
        "none",
        source.username,
        source.password,
        timeout=10,
        destinations=LOOPBACK,
    )
    yield Rig(source, mail_user, server, db, account_id, services)
    engine.dispose()


def test_first_import_is_byte_equal_with_original_dates(rig: Rig) -> None:
    originals = [source_message(i) for i in range(5)] + [source_message(9, size=3 * 1024 * 1024)]
    for raw in originals:
        rig.put(raw)
    result = rig.run(FetchOptions(only_new=False))
    assert result.imported == 6
    stored = rig.imported()
    assert set(stored) == set(originals)
    for raw, row in stored.items():
        date = parsedate_to_datetime(re.search(rb"Date: (.+)\r\n", raw).group(1).decode())  # type: ignore[union-attr]
        assert row[b"INTERNALDATE"] == date  # type: ignore[index]
        assert b"\\Seen" not in row[b"FLAGS"]  # type: ignore[index]
    assert rig.on_server() == 6  # copies kept by default
    assert rig.run(FetchOptions(only_new=False)).imported == 0  # nothing twice


def test_delete_from_server_after_storing(rig: Rig) -> None:
    for i in range(3):
        rig.put(source_message(i))
    result = rig.run(FetchOptions(only_new=False, leave_on_server=False, mark_read=True))
    assert (result.imported, result.deleted) == (3, 3)
    assert rig.on_server() == 0
    assert all(b"\\Seen" in row[b"FLAGS"] for row in rig.imported().values())  # type: ignore[index]


def test_delete_after_days_keeps_fresh_copies(rig: Rig) -> None:
    rig.put(source_message(1))
    rig.run(FetchOptions(only_new=False))
    assert rig.run(FetchOptions(only_new=False, delete_after_days=3)).deleted == 0
    state = DatabaseState(rig.db, rig.account_id)
    later = datetime.now(UTC) + timedelta(days=4)
    client = rig.imap()
    result = fetch_account(rig.server, FetchOptions(only_new=False, delete_after_days=3), state,
                           FolderTarget(client, "Imported"), now=later)  # fmt: skip
    client.logout()
    assert result.deleted == 1
    assert rig.on_server() == 0
    assert len(rig.imported()) == 1


def test_only_new_skips_what_was_there(rig: Rig) -> None:
    rig.put(source_message(1))
    rig.put(source_message(2))
    first = rig.run(FetchOptions(only_new=True))
    assert first.baseline
    assert first.imported == 0
    rig.put(source_message(3))
    second = rig.run(FetchOptions(only_new=True))
    assert second.imported == 1
    assert [b"External 3" in raw for raw in rig.imported()] == [True]


def test_per_run_limit_continues_next_time(rig: Rig) -> None:
    for i in range(7):
        rig.put(source_message(i))
    first = rig.run(FetchOptions(only_new=False, max_messages=3))
    assert (first.imported, first.more) == (3, True)
    rig.run(FetchOptions(only_new=False, max_messages=3))
    last = rig.run(FetchOptions(only_new=False, max_messages=3))
    assert (last.imported, last.more) == (1, False)
    assert len(rig.imported()) == 7


class CrashAfterAppend:
    """The real target, and then the process 'dies' before the UIDL is recorded."""

    def __init__(self, target: FolderTarget) -> None:
        self.target = target

    def contains(self, identity):  # type: ignore[no-untyped-def]
        return self.target.contains(identity)

    def append(self, raw, when, *, seen):  # type: ignore[no-untyped-def]
        self.target.append(raw, when, seen=seen)
        raise SystemExit("killed between APPEND and recording")


@pytest.mark.parametrize("with_message_id", [True, False])
def test_crash_between_append_and_record_never_duplicates(rig: Rig, with_message_id: bool) -> None:
    rig.put(source_message(1, message_id=with_message_id))
    rig.put(source_message(2, message_id=with_message_id))
    client = rig.imap()
    with pytest.raises(SystemExit):
        fetch_account(rig.server, FetchOptions(only_new=False, leave_on_server=False),
                      DatabaseState(rig.db, rig.account_id), CrashAfterAppend(FolderTarget(client, "Imported")))  # type: ignore[arg-type]  # fmt: skip
    client.logout()
    assert rig.on_server() == 2  # no QUIT: the server kept everything
    result = rig.run(FetchOptions(only_new=False, leave_on_server=False))
    assert result.already_there == 1
    assert result.imported == 1
    assert len(rig.imported()) == 2  # each exactly once
    assert rig.on_server() == 0


class CrashAfterRecord(DatabaseState):
    def record(self, uid: str) -> None:
        super().record(uid)
        raise SystemExit("killed between recording and DELE")


def test_crash_between_record_and_dele_deletes_next_time(rig: Rig) -> None:
    rig.put(source_message(1))
    with pytest.raises(SystemExit):
        rig.run(
            FetchOptions(only_new=False, leave_on_server=False),
            state=CrashAfterRecord(rig.db, rig.account_id),
        )
    assert rig.on_server() == 1
    result = rig.run(FetchOptions(only_new=False, leave_on_server=False))
    assert (result.imported, result.deleted) == (0, 1)
    assert rig.on_server() == 0
    assert len(rig.imported()) == 1


def test_wrong_password_and_refused_connection(rig: Rig) -> None:
    client = rig.imap()
    target = FolderTarget(client, "Imported")
    state = DatabaseState(rig.db, rig.account_id)
    try:
        wrong = POP3Server(
            "127.0.0.1",
            rig.server.port,
            "none",
            rig.server.username,
            "nope",
            timeout=10,
            destinations=LOOPBACK,
        )
        with pytest.raises(POP3AuthError, match="user name or password is wrong"):
            fetch_account(wrong, FetchOptions(), state, target)
        refused = POP3Server("127.0.0.1", free_port(), "none", "x", "y", timeout=5, destinations=LOOPBACK)
        with pytest.raises(POP3ConnectError, match="refused"):
            fetch_account(refused, FetchOptions(), state, target)
    finally:
        client.logout()
    assert not state.has_run()  # a failed login is not a first run
