from __future__ import annotations

import imaplib
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
