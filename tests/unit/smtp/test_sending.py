"""The send workflow's plain parts: what the outcome says, when a message goes, its Drafts copy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest

from webmail.errors import WebmailError
from webmail.imap.errors import MailboxBusyError, ProtocolError, UnavailableError
from webmail.mail.compose import ComposeError, Draft
from webmail.smtp.errors import SMTPUnavailableError
from webmail.smtp.sending import SendOutcome, prepare, send_time, why_not_filed

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class TestSendOutcomeWords:
    def test_sent_and_filed(self) -> None:
        outcome = SendOutcome()
        assert outcome.sent
        assert (outcome.words, outcome.note) == ("Message sent.", "")

    def test_sent_but_the_copy_is_missing(self) -> None:
        outcome = SendOutcome(sent_copy="failed", sent_copy_problem=why_not_filed(UnavailableError()))
        assert outcome.sent
        assert outcome.words == (
            "Message sent. The copy could not be saved in Sent: the connection to the mail server was lost."
        )
        assert "try again" not in outcome.words.lower()  # it must not read as "send it again"

    def test_no_sent_folder_and_refused_recipients(self) -> None:
        outcome = SendOutcome(refused=("x@example.org (5.1.1 No such user)",), sent_copy="no folder")
        assert outcome.note == (
            "This mailbox has no Sent folder to keep a copy in. The mail server refused these recipients, "
            "so they did not get it: x@example.org (5.1.1 No such user)."
        )

    def test_not_sent(self) -> None:
        kept = SendOutcome(error=SMTPUnavailableError(), kept_in_drafts=True)
        assert not kept.sent
        assert kept.words == (
            "The mail server for sending is unavailable. Your message was not sent; try again. "
            "The message was saved in Drafts."
        )
        assert SendOutcome(error=SMTPUnavailableError()).words.endswith("try again.")

    @pytest.mark.parametrize(
        ("error", "words"),
        [
            (MailboxBusyError(), "your mailbox has too many connections open."),
            (ProtocolError("The mail server refused: quota."), "The mail server refused: quota."),
        ],
    )
    def test_reasons(self, error: WebmailError, words: str) -> None:
        assert why_not_filed(error) == words


class TestSendTime:
    def test_now_without_an_undo_window(self) -> None:
        assert send_time(later=False, at="", zone=UTC, undo_seconds=0, now=NOW) is None

    def test_after_the_undo_window(self) -> None:
        assert send_time(later=False, at="", zone=UTC, undo_seconds=10, now=NOW) == NOW + timedelta(
            seconds=10
        )

    def test_later_in_the_users_zone(self) -> None:
        plus_two = timezone(timedelta(hours=2))
        when = send_time(later=True, at="2026-03-02T18:30", zone=plus_two, undo_seconds=10, now=NOW)
        assert when == datetime(2026, 3, 2, 16, 30, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("at", "words"),
        [("", "Choose the date"), ("next tuesday", "Choose the date"), ("2020-01-01T10:00", "has passed")],
    )
    def test_bad_or_past_times(self, at: str, words: str) -> None:
        with pytest.raises(ComposeError, match=words):
            send_time(later=True, at=at, zone=UTC, undo_seconds=0, now=NOW)


def test_prepare_keeps_bcc_for_the_sent_copy_and_collects_everyone() -> None:
    draft = Draft(sender="me@example.org", to="Ann <a@example.org>", bcc="b@example.org", subject="Hi",
                  body="x")  # fmt: skip
    outgoing = prepare(draft, draft_id="d1234567", reply_ref="INBOX/7", reply_kind="reply")
    assert outgoing.recipients == ("a@example.org", "b@example.org")
    assert "Bcc" not in outgoing.message
    assert str(message_from_bytes(outgoing.sent_copy, policy=policy.default)["Bcc"]) == "b@example.org"
    assert outgoing.collected == (("Ann", "a@example.org"), ("", "b@example.org"))
    kept = message_from_bytes(outgoing.draft_copy(), policy=policy.default)
    assert (kept["X-Webmail-Draft"], kept["X-Webmail-Reply-Ref"]) == ("d1234567", "INBOX/7")


def test_outbox_message_without_its_draft_is_kept_as_the_sent_copy() -> None:
    outgoing = prepare(Draft(sender="me@example.org", to="a@example.org", body="x"), draft_id="d1234567")
    bare = replace(outgoing, draft=None)
    assert bare.draft_copy() == b"X-Webmail-Draft: d1234567\r\n" + outgoing.sent_copy
