from __future__ import annotations

import imaplib
import logging
import socket

import pytest
from imapclient import exceptions as imap_exc

from webmail.imap.errors import (
    AuthFailedError,
    FolderNotFoundError,
    IMAPError,
    ProtocolError,
    UnavailableError,
    map_imap_errors,
    refused,
)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (imap_exc.LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"), AuthFailedError),
        (imap_exc.LoginError("b'[UNAVAILABLE] Temporary authentication failure.'"), UnavailableError),
        (imap_exc.LoginError("b'[LIMIT] Maximum number of connections'"), UnavailableError),
        (imaplib.IMAP4.abort("socket error: EOF"), UnavailableError),
        (ConnectionRefusedError(111, "refused"), UnavailableError),
        (TimeoutError(), UnavailableError),
        (socket.gaierror(-2, "Name or service not known"), UnavailableError),
        (imaplib.IMAP4.error(b"select failed: Mailbox doesn't exist: Nope"), FolderNotFoundError),
        (imaplib.IMAP4.error(b"BAD Error in IMAP command"), ProtocolError),
    ],
)
def test_maps_to_the_most_specific_error(raised: Exception, expected: type[IMAPError]) -> None:
    with pytest.raises(expected) as info, map_imap_errors():
        raise raised
    assert info.value.__cause__ is raised
    assert info.value.user_message


def test_status_codes() -> None:
    assert AuthFailedError().status_code == 401
    assert UnavailableError().status_code == 503
    assert FolderNotFoundError().status_code == 404


class TestRefusals:
    def test_the_log_names_the_command_and_the_server_words_and_the_user_sees_them(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        refusal = imap_exc.IMAPClientError(
            "create failed: [CANNOT] Client tried to access nonexistent namespace. "
            "(Mailbox name should probably be prefixed with: INBOX.) (0.001 + 0.000 secs)."
        )
        with caplog.at_level(logging.WARNING), pytest.raises(ProtocolError) as info, map_imap_errors():
            raise refusal
        assert info.value.status_code == 502
        assert info.value.user_message == (
            "The mail server refused this: “Client tried to access nonexistent namespace. "
            "(Mailbox name should probably be prefixed with: INBOX.)”"
        )
        [record] = caplog.records
        assert record.getMessage() == (
            "IMAP CREATE refused: [CANNOT] Client tried to access nonexistent namespace. "
            "(Mailbox name should probably be prefixed with: INBOX.)"
        )

    def test_imaplib_bad_answers_and_tagged_replies(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING), pytest.raises(ProtocolError) as info, map_imap_errors():
            raise imaplib.IMAP4.error(
                "UID command error: BAD [b'Error in IMAP command UID MOVE: Unknown command.']"
            )
        assert (
            info.value.user_message
            == "The mail server refused this: “Error in IMAP command UID MOVE: Unknown command.”"
        )
        assert caplog.records[-1].getMessage().startswith("IMAP UID refused: Error in IMAP command")
        moved = refused("UID MOVE", [b"[OVERQUOTA] Quota exceeded (mailbox for user is full)"], "Not moved")
        assert moved.user_message == "Not moved: “Quota exceeded (mailbox for user is full)”"
        assert (
            caplog.records[-1].getMessage()
            == "IMAP UID MOVE refused: [OVERQUOTA] Quota exceeded (mailbox for user is full)"
        )
        assert refused("EXPUNGE", [None], "Not removed").user_message == "Not removed."

    def test_a_missing_folder_is_still_not_found(self) -> None:
        for text in (
            "select failed: Mailbox does not exist",
            "status failed: [NONEXISTENT] Unknown Mailbox: X",
        ):
            with pytest.raises(FolderNotFoundError), map_imap_errors():
                raise imap_exc.IMAPClientError(text)
