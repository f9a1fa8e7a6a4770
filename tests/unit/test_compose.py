from __future__ import annotations

from datetime import UTC, datetime

import pytest

from webmail.mail.compose import ComposeError, Draft, build_message, parse_recipients
from webmail.mail.drafting import forward_subject, quote, reply_subject


def test_recipient_lists_as_people_paste_them() -> None:
    parsed = parse_recipients('Anna <anna@example.org>; "Doe, John" <j@example.org>\nbob@example.org, ')
    assert [a.addr_spec for a in parsed] == ["anna@example.org", "j@example.org", "bob@example.org"]
    assert parsed[1].display_name == "Doe, John"


@pytest.mark.parametrize("text", ["no at sign", "a@", "@b", "x@y, two words@z"])
def test_bad_addresses_are_named(text: str) -> None:
    with pytest.raises(ComposeError, match="not valid"):
        parse_recipients(text)


def test_subjects() -> None:
    assert reply_subject("Re: RE: Aw: Plans") == "Re: Plans"
    assert reply_subject("Plans") == "Re: Plans"
    assert forward_subject("Fwd: FW: Report") == "Fwd: Report"


def test_quote() -> None:
    assert quote("one\n\ntwo\n", "On Monday, A wrote:") == "\n\nOn Monday, A wrote:\n> one\n>\n> two\n"


def test_build_message_keeps_bcc_out_of_the_headers() -> None:
    draft = Draft(sender="me@example.org", to="a@example.org", bcc="secret@example.org", subject="Hi",
                  body="Text", in_reply_to="<p@x>", references="<r@x>")  # fmt: skip
    message, recipients = build_message(draft, now=datetime(2026, 11, 26, tzinfo=UTC))
    assert recipients == ["a@example.org", "secret@example.org"]
    assert "Bcc" not in message
    assert message["References"] == "<r@x> <p@x>"
    assert message["Message-ID"].endswith("@example.org>")


def test_no_recipients() -> None:
    with pytest.raises(ComposeError, match="at least one recipient"):
        build_message(Draft(sender="me@example.org", subject="x"))


def test_utf8_addresses_survive_the_outbox_round_trip() -> None:
    """The outbox stores bytes and parses them again before sending: the UTF-8 addresses,
    read back as surrogate escapes, must still ask for SMTPUTF8 and give the right sender."""
    from email import message_from_bytes, policy

    from webmail.smtp.submit import envelope_sender, needs_smtputf8

    message, recipients = build_message(
        Draft(sender="Zoë <zoë@example.org>", to="jörg@example.org", body="x")
    )
    assert message.policy.utf8
    again = message_from_bytes(bytes(message), policy=policy.SMTP)
    assert needs_smtputf8(again, recipients)  # type: ignore[arg-type]
    assert envelope_sender(again) == "zoë@example.org"  # type: ignore[arg-type]
    plain, recipients = build_message(Draft(sender="me@example.org", to="a@bücher.example", body="x"))
    assert recipients == ["a@xn--bcher-kva.example"]
    assert not needs_smtputf8(plain, recipients)
    with pytest.raises(ComposeError, match="not valid"):
        parse_recipients("a@bad..idn-ü.example")
