"""Recognising a message again (POP3 duplicates): by Message-ID, or by Date, From and Subject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.identity import Identity, date_of, identity_of

PLUS_ONE = timezone(timedelta(hours=1))


class TestIdentityOf:
    def test_message_id_is_enough(self) -> None:
        assert identity_of(b"Message-ID:  <a@example.org>  \r\nSubject: x\r\n\r\nbody") == Identity(
            message_id="<a@example.org>"
        )

    def test_without_message_id_date_sender_and_subject_decoded(self) -> None:
        raw = (
            b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nFrom: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
            b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n"
        )
        assert identity_of(raw) == Identity(
            date="Mon, 2 Nov 2026 10:00:00 +0000", sender="Jürgen <j@example.org>", subject="Grüße"
        )

    def test_an_empty_message_id_counts_as_none(self) -> None:
        assert identity_of(b"Message-ID:   \r\nSubject: s\r\n\r\n") == Identity(subject="s")

    def test_encoded_line_breaks_do_not_reach_the_search(self) -> None:
        identity = identity_of(b"Subject: =?utf-8?q?a=0D=0AX-Injected:_1?=\r\n\r\n")
        assert identity.subject == "a X-Injected: 1"

    def test_8bit_headers(self) -> None:
        assert identity_of("Subject: Grüße\r\n\r\n".encode()).subject == "Grüße"
        assert identity_of(b"Subject: caf\xe9\r\n\r\n").subject == "café"

    @pytest.mark.parametrize(
        "raw", [b"", b"\xff\xfe\x00garbage", b"\r\n\r\nSubject: in the body", b"no headers at all"]
    )
    def test_garbage_is_an_empty_identity(self, raw: bytes) -> None:
        assert identity_of(raw) == Identity()

    def test_only_the_first_256_kib_are_read(self) -> None:
        raw = b"X-Filler: " + b"x" * (256 * 1024) + b"\r\nMessage-ID: <late@example.org>\r\n\r\n"
        assert identity_of(raw).message_id == ""


class TestDateOf:
    def test_the_newest_received_line_wins(self) -> None:
        raw = (
            b"Received: from x by y; Tue, 3 Nov 2026 10:00:00 +0100\r\n"
            b"Received: from a by b; Mon, 2 Nov 2026 09:00:00 +0000\r\nDate: Sun, 1 Nov 2026 08:00:00 +0000\r\n\r\n"
        )
        assert date_of(raw) == datetime(2026, 11, 3, 10, tzinfo=PLUS_ONE)

    def test_folded_received_line(self) -> None:
        assert date_of(b"Received: from x\r\n by y;\r\n Tue, 3 Nov 2026 10:00:00 +0100\r\n\r\n") == datetime(
            2026, 11, 3, 10, tzinfo=PLUS_ONE
        )

    @pytest.mark.parametrize(
        "received",
        [
            b"from x by y (no date)",
            b"x; \xff\xfe",
            b"x; Fri, 31 Dec 9999 23:59:59 -1200",
            b"x; Mon, 1 Jan 99999999999999999999 0:0 +0000",
        ],
    )
    def test_a_useless_received_date_falls_back_to_date(self, received: bytes) -> None:
        raw = b"Received: " + received + b"\r\nDate: Sun, 1 Nov 2026 08:00:00 +0000\r\n\r\n"
        assert date_of(raw) == datetime(2026, 11, 1, 8, tzinfo=UTC)

    @pytest.mark.parametrize(
        "raw",
        [
            b"",
            b"Subject: none\r\n\r\n",
            b"Date: Fri, 31 Dec 9999 23:59:59 -1200\r\n\r\n",  # could not be stored as an INTERNALDATE
            b"Date: Mon, 01 Jan 99999999999999999999 00:00:00 +0000\r\n\r\n",  # raised OverflowError
            b"Date: Mon, 01 Jan 2026 00:00:00 -0000\r\n\r\n",
            b"Date: soon\r\n\r\n",
        ],
    )
    def test_no_usable_date_is_none(self, raw: bytes) -> None:
        assert date_of(raw) is None


@given(st.binary(max_size=300))
def test_never_raises(raw: bytes) -> None:
    identity_of(raw)
    when = date_of(raw)
    assert when is None or when.tzinfo is not None
