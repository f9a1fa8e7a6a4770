"""The live events' JSON: every event survives the round trip; anything else is dropped, never raised."""

from __future__ import annotations

import json
import logging

import pytest

from webmail.events import (
    Event,
    ExportProgress,
    ImportProgress,
    MailboxChanged,
    NewMail,
    NewMessage,
    OutboxResult,
    POP3Progress,
    SessionExpired,
    decode,
    encode,
)

EVERY_EVENT: list[Event] = [
    MailboxChanged(("INBOX", "Archive/2024", "Ünïcode")),
    MailboxChanged(()),
    NewMail((NewMessage("Eve <eve@example.org>", "Hello <SSE> & “you”"), NewMessage("", ""))),
    POP3Progress(7, "running"),
    POP3Progress(7, "done"),
    OutboxResult(3, "failed", "Lunch?", "The server said no."),
    OutboxResult(4, "sent", "", ""),
    ExportProgress("a1b2c3d4e5", 1234, 5000, "running"),
    ExportProgress("x" * 22, 5000, 5000, "ready", "/settings/storage/exports/x"),
    ImportProgress("a1b2c3d4e5", 150, 148),
    SessionExpired(),
]


class TestRoundTrip:
    @pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
    def test_decode_gives_back_what_was_encoded(self, event: Event) -> None:
        assert decode(encode(event)) == event
        assert decode(encode(event).encode()) == event  # as redis-py hands it over

    def test_the_json_names_its_type(self) -> None:
        for event in EVERY_EVENT:
            assert json.loads(encode(event))["type"] == event.name


class TestWhatTheBrowserReads:
    """static/app.js and the templates' sse:<name> triggers read these names and fields."""

    def test_names(self) -> None:
        names = {type(e).__name__: e.name for e in EVERY_EVENT}
        assert names == {
            "MailboxChanged": "mailbox",
            "NewMail": "newmail",
            "POP3Progress": "pop3",
            "OutboxResult": "outbox",
            "ExportProgress": "export",
            "ImportProgress": "import",
            "SessionExpired": "expired",
        }

    def test_fields(self) -> None:
        assert json.loads(encode(MailboxChanged(("INBOX",)))) == {"type": "mailbox", "folders": ["INBOX"]}
        assert json.loads(encode(NewMail((NewMessage("Eve", "Hi"),)))) == {
            "type": "newmail",
            "messages": [{"sender": "Eve", "subject": "Hi"}],
        }
        assert json.loads(encode(POP3Progress(2, "done"))) == {"type": "pop3", "account": 2, "state": "done"}
        assert json.loads(encode(OutboxResult(5, "failed", "S", "E"))) == {
            "type": "outbox",
            "id": 5,
            "status": "failed",
            "subject": "S",
            "error": "E",
        }
        assert json.loads(encode(SessionExpired())) == {"type": "expired"}


MALFORMED = [
    b"",
    b"not json",
    b"\xff\xfe\x00",  # not UTF-8
    b"[1, 2]",
    b'"mailbox"',
    b"null",
    b"{}",
    b'{"type": "launch-missiles"}',
    b'{"type": 5}',
    b'{"type": ["mailbox"]}',
    b'{"type": "mailbox"}',
    b'{"type": "mailbox", "folders": "INBOX"}',
    b'{"type": "mailbox", "folders": [1, 2]}',
    b'{"type": "newmail", "messages": {"sender": "a", "subject": "b"}}',
    b'{"type": "newmail", "messages": [["a", "b"]]}',
    b'{"type": "newmail", "messages": [{"sender": "a"}]}',
    b'{"type": "newmail", "messages": [{"sender": null, "subject": "b"}]}',
    b'{"type": "pop3", "account": "7", "state": "done"}',
    b'{"type": "pop3", "account": true, "state": "done"}',
    b'{"type": "pop3", "account": 7, "state": "exploded"}',
    b'{"type": "outbox", "id": 1, "status": "sent", "subject": "s"}',
    b'{"type": "outbox", "id": 1.5, "status": "sent", "subject": "s", "error": ""}',
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's recursion limit
]


class TestMalformed:
    @pytest.mark.parametrize("raw", MALFORMED, ids=lambda raw: raw[:40].decode("latin-1"))
    def test_is_dropped_with_a_log_line(self, raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING, logger="webmail.events"):
            assert decode(raw) is None
        assert [r.levelno for r in caplog.records] == [logging.WARNING]
        assert "dropped a live event" in caplog.records[0].getMessage()

    def test_the_log_line_stays_short(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING, logger="webmail.events"):
            decode(b'{"type": "nope", "x": "' + b"a" * 10_000 + b'"}')
        assert len(caplog.records[0].getMessage()) < 300

    def test_unknown_fields_are_ignored(self) -> None:
        """A newer publisher may add fields; an older reader still understands the event."""
        raw = b'{"type": "mailbox", "folders": ["INBOX"], "unseen": {"INBOX": 2}}'
        assert decode(raw) == MailboxChanged(("INBOX",))
