"""UID FETCH (FLAGS) answers read by raw.uid_flags give what imapclient's get_flags gives."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from imapclient.response_parser import parse_fetch_response

from webmail.imap.errors import IMAPError
from webmail.imap.raw import uid_flags


def client_answering(typ: str, data: list[Any]) -> Any:
    sent: list[tuple[str, ...]] = []

    def uid(*args: str) -> tuple[str, list[Any]]:
        sent.append(args)
        return typ, data

    return SimpleNamespace(_imap=SimpleNamespace(uid=uid), sent=sent)


ANSWERS = [
    b"1 (UID 7 FLAGS (\\Seen))",
    b"2 (FLAGS (\\Seen \\Flagged $label1) UID 8)",  # any order
    b"3 (UID 9 MODSEQ (12345) FLAGS ())",  # CONDSTORE adds MODSEQ; no flags at all
    b"4 (FLAGS (\\Deleted))",  # no UID: the server telling of another message
    b"5 (UID 11 FLAGS (\\Answered NonJunk))",
]


def test_flags_as_imapclient_reads_them() -> None:
    client = client_answering("OK", ANSWERS)
    found = uid_flags(client, [7, 8, 9, 11])
    assert client.sent == [("FETCH", b"7,8,9,11", "(FLAGS)")]
    expected = {
        int(values[b"UID"]): tuple(values[b"FLAGS"])
        for values in parse_fetch_response(ANSWERS, False, False).values()
        if b"UID" in values
    }
    assert found == expected
    assert found[8] == (b"\\Seen", b"\\Flagged", b"$label1")
    assert found[9] == ()


def test_another_shape_goes_to_imapclients_parser() -> None:
    odd = [(b"6 (UID 12 FLAGS (\\Seen) BODY[HEADER.FIELDS (X)] {3}", b"abc"), b")"]
    assert uid_flags(client_answering("OK", [*ANSWERS[:1], *odd]), [7, 12]) == {
        7: (b"\\Seen",),
        12: (b"\\Seen",),
    }


def test_nothing_asked_nothing_sent() -> None:
    client = client_answering("OK", [])
    assert uid_flags(client, []) == {}
    assert client.sent == []


def test_a_refusal_is_an_imap_error() -> None:
    with pytest.raises(IMAPError):
        uid_flags(client_answering("NO", [b"Mailbox is gone"]), [1])
