"""Replies, forwards and signatures from the original's headers and text, hostile ones included."""

from __future__ import annotations

import pytest

from webmail.mail.compose import Draft, build_message, parse_recipients
from webmail.mail.drafting import (
    add_signature,
    address_text,
    attribution,
    forward_draft,
    forward_subject,
    quote,
    reply_draft,
    reply_subject,
)
from webmail.mail.render import HeaderAddress, Headers, parse_headers

ME = "me@example.org"


def original(*lines: str) -> Headers:
    """Headers as the reader parses them from the wire, so hostile bytes go the real way."""
    return parse_headers(("\r\n".join(lines) + "\r\n\r\n").encode())


class TestReplyDraft:
    def test_reply_goes_to_the_sender_quoted_and_threaded(self) -> None:
        headers = original(
            "From: Anna <anna@example.org>",
            f"To: {ME}",
            "Subject: Re: RE: Plans",
            "Date: Mon, 02 Mar 2026 09:15:00 +0100",
            "Message-ID: <m1@example.org>",
            "References: <root@example.org> <p@example.org>",
        )
        draft = reply_draft(headers, "Shall we?\nTomorrow.", sender=ME)
        assert draft.to == "Anna <anna@example.org>"
        assert draft.cc == ""
        assert draft.subject == "Re: Plans"
        assert draft.body == (
            "\n\nOn Mon, 02 Mar 2026 09:15, Anna <anna@example.org> wrote:\n> Shall we?\n> Tomorrow.\n"
        )
        assert draft.in_reply_to == "<m1@example.org>"
        assert draft.references == "<root@example.org> <p@example.org>"
        assert draft.sender == ME

    def test_reply_to_wins_over_from(self) -> None:
        headers = original("From: list@example.org", "Reply-To: Team <team@example.org>", "Subject: x")
        assert reply_draft(headers, "", sender=ME).to == "Team <team@example.org>"

    def test_reply_all_leaves_out_own_addresses_and_repeats(self) -> None:
        headers = original(
            "From: Anna <anna@example.org>",
            f"To: {ME.upper()}, Bob <bob@example.org>, anna@example.org",
            "Cc: bob@EXAMPLE.org, sales@example.org, Carol <carol@example.org>",
        )
        draft = reply_draft(headers, "", sender=ME, own_addresses=[ME, "Sales@Example.org"], reply_all=True)
        assert draft.to == "Anna <anna@example.org>"
        assert draft.cc == "Bob <bob@example.org>, Carol <carol@example.org>"

    def test_plain_reply_never_copies_the_others(self) -> None:
        headers = original("From: anna@example.org", "Cc: bob@example.org")
        assert reply_draft(headers, "", sender=ME).cc == ""

    def test_no_from_no_date_no_subject(self) -> None:
        draft = reply_draft(original("X-Nothing: here"), "text", sender=ME)
        assert draft.to == ""
        assert draft.subject == "Re: "
        assert draft.body.startswith("\n\nOn an unknown date, someone wrote:\n> text")
        assert draft.in_reply_to == draft.references == ""

    def test_unparseable_date_and_a_group_without_addresses(self) -> None:
        headers = original("From: undisclosed-recipients:;", "Date: yesterday-ish")
        draft = reply_draft(headers, "", sender=ME, reply_all=True)
        assert draft.to == ""
        assert attribution(headers) == "On an unknown date, someone wrote:"

    def test_line_breaks_hidden_in_encoded_words_become_spaces(self) -> None:
        headers = original(
            "From: =?utf-8?q?Eve=0D=0ASmith?= <eve@example.org>",
            "Subject: =?utf-8?q?Hi=0D=0ABcc:_victim@example.org?=",
            "Message-ID: =?utf-8?q?<a=0A@b>?=",
        )
        draft = reply_draft(headers, "", sender=ME)
        assert draft.subject == "Re: Hi Bcc: victim@example.org"
        assert draft.to == "Eve Smith <eve@example.org>"
        fields = (draft.subject, draft.to, draft.in_reply_to, draft.references)
        assert not any(break_ in value for value in fields for break_ in "\r\n")
        build_message(draft)  # sendable: nothing in it is refused as a header injection
        assert [a.addr_spec for a in parse_recipients(draft.to)] == ["eve@example.org"]

    def test_names_with_specials_stay_one_recipient(self) -> None:
        headers = original(
            'From: "Doe, John" <john@example.org>',
            'To: "Evil \\"Q\\", X" <e@example.org>, Dr. No <no@example.org>',
        )
        draft = reply_draft(headers, "", sender="other@example.org", reply_all=True)
        assert draft.to == '"Doe, John" <john@example.org>'
        parsed = parse_recipients(draft.cc)
        assert [(a.display_name, a.addr_spec) for a in parsed] == [
            ("Evil Q, X", "e@example.org"),
            ("Dr. No", "no@example.org"),
        ]

    def test_non_ascii_names(self) -> None:
        headers = original(
            "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <j@example.org>",
            "Subject: =?iso-8859-1?q?Gr=FC=DFe?=",
        )
        draft = reply_draft(headers, "Grüße", sender=ME)
        assert draft.to == "Jörg Müller <j@example.org>"
        assert draft.subject == "Re: Grüße"
        assert "Jörg Müller <j@example.org> wrote:\n> Grüße" in draft.body
        message, recipients = build_message(draft)
        assert recipients == ["j@example.org"]

    def test_a_huge_quote_is_quoted_whole(self) -> None:
        text = "\n".join(f"line {n}" for n in range(200_000))
        body = reply_draft(original("From: a@example.org"), text, sender=ME).body
        lines = body.split("\n")
        assert lines[3] == "> line 0"
        assert lines[-2] == "> line 199999"
        assert sum(1 for line in lines if line.startswith("> line ")) == 200_000


class TestForwardDraft:
    def test_inline_forward_has_the_header_block_then_the_text(self) -> None:
        headers = original(
            "From: a@example.org",
            "To: b@example.org, C <c@example.org>",
            "Subject: Fw: FWD: Report",
            "Date: Tue, 03 Mar 2026 10:00:00 +0000",
        )
        draft = forward_draft(headers, "The numbers.", sender=ME)
        assert draft.subject == "Fwd: Report"
        assert (draft.to, draft.in_reply_to) == ("", "")
        assert draft.body == (
            "\n\n---------- Forwarded message ----------\n"
            "From: a@example.org\nDate: Tue, 03 Mar 2026 10:00\nSubject: Fw: FWD: Report\n"
            "To: b@example.org, C <c@example.org>\n\nThe numbers."
        )

    def test_as_attachment_the_body_starts_empty(self) -> None:
        draft = forward_draft(original("Subject: Report"), "The numbers.", sender=ME, inline=False)
        assert (draft.subject, draft.body) == ("Fwd: Report", "")

    def test_broken_original_cannot_forge_lines_in_the_header_block(self) -> None:
        headers = original("Subject: =?utf-8?q?x=0AFrom:_boss@example.org?=")
        body = forward_draft(headers, "", sender=ME).body
        assert "\nFrom: someone\nDate: an unknown date\nSubject: x From: boss@example.org\nTo: \n" in body


class TestSignature:
    def test_signature_above_the_quote_after_the_separator(self) -> None:
        draft = reply_draft(original("From: a@example.org"), "question", sender=ME)
        signed = add_signature(draft, text="Jürgen\nDesk 4", html="", html_mode=False)
        assert signed.body.startswith("\n\n-- \nJürgen\nDesk 4\n\nOn an unknown date")
        assert signed.body.index("-- ") < signed.body.index("> question")
        assert signed.html == ""
        assert draft.body.startswith("\n\nOn")  # the draft given is left as it was

    def test_html_mode_gets_the_signature_in_the_editor_markup(self) -> None:
        signed = add_signature(Draft(sender=ME), text="Me & you", html="", html_mode=True)
        assert signed.body == "\n\n-- \nMe & you"
        assert signed.html.startswith("<div><br></div><div>-- </div>")
        assert "Me &amp; you" in signed.html

    def test_an_html_signature_has_a_plain_twin(self) -> None:
        signed = add_signature(
            Draft(sender=ME), text="", html="<div><b>Team</b> Sales</div>", html_mode=False
        )
        assert signed.body == "\n\n-- \nTeam Sales"
        html = add_signature(Draft(sender=ME), text="", html="<div><b>Team</b></div>", html_mode=True).html
        assert "<b>Team</b>" in html

    def test_no_signature_changes_nothing(self) -> None:
        draft = Draft(sender=ME, body="x")
        assert add_signature(draft, text="", html="", html_mode=True) == draft


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("Re: RE: Aw: Plans", "Re: Plans"), ("Plans", "Re: Plans"), ("Re[2]: SV: x", "Re: x"), ("", "Re: ")],
)
def test_reply_subjects(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_forward_subjects() -> None:
    assert forward_subject("Fwd: FW: WG: Report") == "Fwd: Report"
    assert forward_subject("Re: Report") == "Fwd: Re: Report"
    assert forward_subject("a\r\n b") == "Fwd: a b"


def test_quote_takes_every_kind_of_line_end() -> None:
    assert quote("one\r\ntwo\rthree\n\n", "A wrote:") == "\n\nA wrote:\n> one\n> two\n> three\n"
    assert quote("", "A wrote:") == "\n\nA wrote:\n>\n"


@pytest.mark.parametrize(
    ("address", "text"),
    [
        (HeaderAddress("", "a@example.org"), "a@example.org"),
        (HeaderAddress("Ann", "a@example.org"), "Ann <a@example.org>"),
        (HeaderAddress("O'Brien, Ann", "a@example.org"), '"O\'Brien, Ann" <a@example.org>'),
        (HeaderAddress('Back\\slash "q"', "a@example.org"), "Backslash q <a@example.org>"),
        (HeaderAddress("only a name", ""), "only a name"),
    ],
)
def test_address_text(address: HeaderAddress, text: str) -> None:
    assert address_text(address) == text
