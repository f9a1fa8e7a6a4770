"""Extensions the two configurations of the suite both have or both lack: a server without UIDPLUS
(so without UID EXPUNGE) and one with CREATE-SPECIAL-USE, played by the courier configuration."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.conftest import MailUser, make_settings
from tests.integration.test_actions import actions_of
from tests.integration.test_organize import put, subjects
from webmail.devservices import DevServices
from webmail.devservices.dovecot import COURIER_CAPABILITY, Dovecot, start_dovecot

# No UIDPLUS (Courier has it; some servers do not), and CREATE-SPECIAL-USE (RFC 6154 3).
CAPABILITY = COURIER_CAPABILITY.replace(" UIDPLUS", "") + " CREATE-SPECIAL-USE"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="webmail-fallbacks-"))
    root.chmod(0o755)
    server = start_dovecot(root / "dovecot", flavour="courier", imap_capability=CAPABILITY)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def user(dovecot: Dovecot) -> MailUser:
    return MailUser(dovecot.new_user("pw"), "pw")


@pytest.fixture
def imap(dovecot: Dovecot, user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    assert b"UIDPLUS" not in client.capabilities()
    yield client
    client.logout()


def deleted_marks(imap: IMAPClient, folder: str) -> list[str]:
    imap.select_folder(folder)
    marked = imap.search(["DELETED"])
    return sorted(row[b"ENVELOPE"].subject.decode() for row in imap.fetch(marked, ["ENVELOPE"]).values())


def test_without_uidplus_only_these_messages_go_and_others_keep_their_deleted_mark(
    services: DevServices, database_url: str, dovecot: Dovecot, user: MailUser, imap: IMAPClient
) -> None:
    act = actions_of(make_settings(services, database_url, imap_port=dovecot.imap_port), user)
    moving = [put(imap, "Move me"), put(imap, "Me too")]
    marked = put(imap, "Marked elsewhere")
    put(imap, "Untouched")
    imap.select_folder("INBOX")
    imap.add_flags([marked], [b"\\Deleted"])  # another program's, not yet expunged

    act(lambda actions: actions.delete("INBOX", moving))
    assert subjects(imap, "INBOX.Trash") == ["Me too", "Move me"]
    assert subjects(imap, "INBOX") == ["Marked elsewhere", "Untouched"]
    assert deleted_marks(imap, "INBOX") == ["Marked elsewhere"]

    imap.select_folder("INBOX.Trash")
    [gone, _] = sorted(imap.search(["ALL"]))
    act(lambda actions: actions.delete("INBOX.Trash", [gone], confirmed=True))
    assert len(subjects(imap, "INBOX.Trash")) == 1
    assert "EXPUNGE" in dovecot.commands(user.username)
    assert not any(command.startswith("UID EXPUNGE") for command in dovecot.commands(user.username))


def test_a_missing_special_folder_is_created_with_its_attribute(
    services: DevServices, database_url: str, dovecot: Dovecot, user: MailUser, imap: IMAPClient
) -> None:
    act = actions_of(make_settings(services, database_url, imap_port=dovecot.imap_port), user)
    uid = put(imap, "Spam")
    outcome = act(lambda actions: actions.junk("INBOX", [uid]))
    assert outcome.target is not None
    assert outcome.target.name == "INBOX.Junk"
    assert subjects(imap, "INBOX.Junk") == ["Spam"]
    assert 'CREATE "INBOX.Junk" (USE (\\Junk))' in dovecot.commands(user.username)
    assert "INBOX.Junk" in {name for _, _, name in imap.list_sub_folders()}
