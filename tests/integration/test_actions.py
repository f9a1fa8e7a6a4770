"""The mailbox actions service (imap.actions) against Dovecot: each action, its outcome, its undo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar

import pytest
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser, make_settings, run_async
from tests.integration.test_organize import imap, made, put, subjects
from tests.integration.test_organize_more import dovecot_without_move, put_dated
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.devservices.dovecot import Dovecot
from webmail.imap.actions import ActionOutcome, MailboxActions
from webmail.imap.errors import FolderMissingError
from webmail.imap.pool import IMAPPool
from webmail.imap.store import MailStore
from webmail.imap.types import Credentials

__all__ = ["dovecot_without_move", "imap"]

pytestmark = pytest.mark.both_servers

T = TypeVar("T")
Step = Callable[[MailboxActions], Awaitable[T]]


class Act(Protocol):
    def __call__(self, step: Step[T]) -> T: ...


def actions_of(settings: Settings, user: MailUser) -> Act:
    """Runs one step with the user's MailboxActions, over a pool of its own."""

    def run(step: Step[T]) -> T:
        async def scenario() -> T:
            pool = IMAPPool(settings)
            try:
                credentials = Credentials(user.username, user.password)
                return await step(MailboxActions(MailStore(pool, credentials)))
            finally:
                await pool.close_all()

        return run_async(scenario)

    return run


@pytest.fixture
def act(settings: Settings, mail_user: MailUser) -> Act:
    return actions_of(settings, mail_user)


def uids_in(imap: IMAPClient, folder: str) -> list[int]:
    imap.select_folder(folder, readonly=True)
    return sorted(imap.search(["ALL"]))


def undo(outcome: ActionOutcome) -> Step[ActionOutcome]:
    """The undo step of an outcome, as the Undo button posts it."""
    moved = [(move.target, list(move.new_uids)) for move in outcome.undoable]
    return lambda actions: actions.undo(moved, outcome.source)


class TestArchive:
    def test_flat_moves_to_archive_and_says_the_new_uids(
        self, act: Act, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        uids = [put(imap, "One"), put(imap, "Two")]
        outcome = act(lambda actions: actions.archive("INBOX", uids))
        assert outcome.target is not None
        assert outcome.target.name == imap_server.folder("Archive")
        assert outcome.count == 2
        [move] = outcome.moves
        assert (move.source, move.target) == ("INBOX", imap_server.folder("Archive"))
        assert sorted(move.new_uids) == uids_in(imap, imap_server.folder("Archive"))
        assert subjects(imap, imap_server.folder("Archive")) == ["One", "Two"]
        back = act(undo(outcome))
        assert back.action == "undo"
        assert back.count == 2
        assert subjects(imap, "INBOX") == ["One", "Two"]
        assert subjects(imap, imap_server.folder("Archive")) == []

    def test_by_month_and_by_year_into_subfolders_made_on_demand(
        self, act: Act, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        march = put_dated(imap, "March 2025", datetime(2025, 3, 14, 12, 0))
        june = put_dated(imap, "June 2026", datetime(2026, 6, 2, 8, 0))
        outcome = act(lambda actions: actions.archive("INBOX", [march, june], "month"))
        assert [move.target for move in outcome.moves] == [
            imap_server.folder("Archive/2025/03"),
            imap_server.folder("Archive/2026/06"),
        ]
        assert all(len(move.new_uids) == 1 for move in outcome.moves)
        assert subjects(imap, imap_server.folder("Archive/2025/03")) == ["March 2025"]
        assert {imap_server.folder("Archive/2025/03"), imap_server.folder("Archive/2026/06")} <= {
            name for _, _, name in imap.list_sub_folders()
        }
        act(undo(outcome))
        assert subjects(imap, "INBOX") == ["June 2026", "March 2025"]

        year = put_dated(imap, "Year", datetime(2024, 1, 5, 9, 0))
        outcome = act(lambda actions: actions.archive("INBOX", [year], "year"))
        assert [move.target for move in outcome.moves] == [imap_server.folder("Archive/2024")]
        assert subjects(imap, imap_server.folder("Archive/2024")) == ["Year"]

    def test_refused_inside_archive_and_its_subfolders(
        self, act: Act, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        top = put(imap, "Filed", imap_server.folder("Archive"))
        imap.create_folder(imap_server.folder("Archive/2024"))
        deep = put(imap, "Deeper", imap_server.folder("Archive/2024"))
        for folder, uid in ((imap_server.folder("Archive"), top), (imap_server.folder("Archive/2024"), deep)):
            outcome = act(lambda actions, f=folder, u=uid: actions.archive(f, [u], "year"))
            assert outcome.refused == "This message is in Archive already; nothing was moved."
            assert outcome.moves == ()
        assert subjects(imap, imap_server.folder("Archive")) == ["Filed"]
        assert subjects(imap, imap_server.folder("Archive/2024")) == ["Deeper"]


class TestDelete:
    def test_moves_to_trash_and_undo_brings_it_back(
        self, act: Act, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        uid = put(imap, "Doomed")
        outcome = act(lambda actions: actions.delete("INBOX", [uid]))
        assert outcome.target is not None
        assert outcome.target.name == imap_server.folder("Trash")
        assert not outcome.deleted_for_good
        assert subjects(imap, imap_server.folder("Trash")) == ["Doomed"]
        act(undo(outcome))
        assert subjects(imap, "INBOX") == ["Doomed"]
        assert subjects(imap, imap_server.folder("Trash")) == []

    @pytest.mark.parametrize("bin_folder", ["Trash", "Junk"])
    def test_in_a_bin_asks_then_deletes_only_these_for_good(
        self, act: Act, imap: IMAPClient, imap_server: IMAPServer, bin_folder: str
    ) -> None:
        bin_folder = imap_server.folder(bin_folder)
        gone, kept = put(imap, "Gone", bin_folder), put(imap, "Kept", bin_folder)
        question = act(lambda actions: actions.delete(bin_folder, [gone]))
        assert question.confirm_in is not None
        assert question.confirm_in.name == bin_folder
        assert subjects(imap, bin_folder) == ["Gone", "Kept"]  # nothing yet
        done = act(lambda actions: actions.delete(bin_folder, [gone], confirmed=True))
        assert done.deleted_for_good
        assert done.undoable == ()
        assert uids_in(imap, bin_folder) == [kept]


class TestJunk:
    def test_junk_marks_and_moves_and_not_junk_brings_it_back(
        self, act: Act, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        uid = put(imap, "Spammy")
        outcome = act(lambda actions: actions.junk("INBOX", [uid]))
        [in_junk] = outcome.moves[0].new_uids
        imap.select_folder(imap_server.folder("Junk"))
        assert b"$Junk" in imap.get_flags([in_junk])[in_junk]
        back = act(lambda actions: actions.not_junk(imap_server.folder("Junk"), [in_junk]))
        assert back.target is not None
        assert back.target.name == "INBOX"
        [in_inbox] = back.moves[0].new_uids
        imap.select_folder("INBOX")
        flags = imap.get_flags([in_inbox])[in_inbox]
        assert b"$NotJunk" in flags and b"$Junk" not in flags  # noqa: PT018

    def test_undo_of_junk_returns_it(self, act: Act, imap: IMAPClient, imap_server: IMAPServer) -> None:
        uid = put(imap, "Oops")
        act(undo(act(lambda actions: actions.junk("INBOX", [uid]))))
        assert subjects(imap, "INBOX") == ["Oops"]
        assert subjects(imap, imap_server.folder("Junk")) == []

    def test_junk_inside_junk_is_refused(self, act: Act, imap: IMAPClient, imap_server: IMAPServer) -> None:
        uid = put(imap, "Already", imap_server.folder("Junk"))
        outcome = act(lambda actions: actions.junk(imap_server.folder("Junk"), [uid]))
        assert outcome.refused == "This message is in Junk already; nothing was moved."


class TestMoveAndCopy:
    def test_move_and_undo(self, act: Act, imap: IMAPClient, imap_server: IMAPServer) -> None:
        imap.create_folder(imap_server.folder("Projects"))
        uids = [put(imap, f"Plan {i}") for i in range(3)]
        outcome = act(lambda actions: actions.move("INBOX", uids, imap_server.folder("Projects")))
        assert outcome.target is not None
        assert outcome.target.label == "Projects"
        assert len(outcome.moves[0].new_uids) == 3
        act(undo(outcome))
        assert subjects(imap, "INBOX") == ["Plan 0", "Plan 1", "Plan 2"]

    def test_to_a_missing_folder_loses_nothing(
        self, act: Act, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        uid = put(imap, "Stays")
        with pytest.raises(FolderMissingError, match="There is no folder called “Nowhere”"):
            act(lambda actions: actions.move("INBOX", [uid], "Nowhere"))
        with pytest.raises(FolderMissingError):
            act(lambda actions: actions.copy("INBOX", [uid], "Nowhere"))
        assert subjects(imap, "INBOX") == ["Stays"]

    def test_to_the_same_folder_is_refused(self, act: Act, imap: IMAPClient, imap_server: IMAPServer) -> None:
        uids = [put(imap, "Here"), put(imap, "Too")]
        outcome = act(lambda actions: actions.move("INBOX", uids, "INBOX"))
        assert outcome.refused == "These messages are in Inbox already; nothing was moved."
        assert uids_in(imap, "INBOX") == uids

    def test_copy_keeps_the_originals(self, act: Act, imap: IMAPClient, imap_server: IMAPServer) -> None:
        uid = put(imap, "Twice")
        outcome = act(lambda actions: actions.copy("INBOX", [uid], made(imap, imap_server.folder("Archive"))))
        assert outcome.copied == 1
        assert outcome.moves == ()
        assert subjects(imap, "INBOX") == ["Twice"]
        assert subjects(imap, imap_server.folder("Archive")) == ["Twice"]


def test_without_move_the_new_uids_come_from_copyuid(
    services: DevServices, database_url: str, dovecot_without_move: Dovecot
) -> None:
    user = MailUser(dovecot_without_move.new_user("pw"), "pw")
    other = IMAPClient("127.0.0.1", dovecot_without_move.imap_port, ssl=False)
    other.login(user.username, user.password)
    assert b"MOVE" not in other.capabilities()
    keep, moving = put(other, "stays"), [put(other, f"move {i}") for i in range(3)]
    act = actions_of(make_settings(services, database_url, imap_port=dovecot_without_move.imap_port), user)
    archived = act(lambda actions: actions.archive("INBOX", moving))
    [move] = archived.moves
    assert len(move.new_uids) == 3
    assert sorted(subjects(other, "Archive")) == ["move 0", "move 1", "move 2"]
    assert subjects(other, "INBOX") == ["stays"]  # only those were expunged
    assert act(undo(archived)).count == 3
    assert sorted(subjects(other, "INBOX")) == ["move 0", "move 1", "move 2", "stays"]
    assert uids_in(other, "Archive") == []
    assert keep
    other.logout()
