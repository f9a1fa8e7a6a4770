from __future__ import annotations

from webmail.account.identities import IdentityForm, SenderIdentity, login_address, pick_for_reply

WORK = SenderIdentity(1, "Anna Work", "anna@work.example")
HOME = SenderIdentity(2, "Anna", "anna@home.example", is_default=True)


def form(**fields: str) -> dict[str, str]:
    return {"name": "Anna", "email": "anna@example.org", **fields}


class TestIdentityForm:
    def test_valid_form(self) -> None:
        values, errors = IdentityForm.parse(form(reply_to="replies@example.org", bcc_self="on"))
        assert errors == {}
        assert (values.email, values.reply_to, values.bcc_self, values.is_default) == (
            "anna@example.org",
            "replies@example.org",
            True,
            False,
        )

    def test_line_break_in_name_is_refused(self) -> None:
        _, errors = IdentityForm.parse(form(name="Anna\r\nBcc: victim@example.org"))
        assert set(errors) == {"name"}

    def test_missing_address_is_refused(self) -> None:
        _, errors = IdentityForm.parse(form(email="  "))
        assert errors == {"email": "Enter an email address."}

    def test_two_addresses_or_a_display_name_are_refused(self) -> None:
        _, errors = IdentityForm.parse(
            form(email="a@example.org, b@example.org", reply_to="Bob <b@example.org>")
        )
        assert set(errors) == {"email", "reply_to"}

    def test_signature_lengths_are_limited(self) -> None:
        _, errors = IdentityForm.parse(form(signature_text="x" * 4001))
        assert set(errors) == {"signature_text"}

    def test_signature_text_keeps_unix_line_ends(self) -> None:
        values, _ = IdentityForm.parse(form(signature_text="Anna\r\n--\r\nWork"))
        assert values.signature_text == "Anna\n--\nWork"

    def test_signature_html_loses_scripts(self) -> None:
        values, _ = IdentityForm.parse(form(signature_html="<b>Anna</b><script>alert(1)</script>"))
        assert "<script" not in values.signature_html
        assert "<b>Anna</b>" in values.signature_html


class TestPickForReply:
    def test_the_address_the_original_was_sent_to(self) -> None:
        assert pick_for_reply([WORK, HOME], ["Anna@Work.example"]) is WORK

    def test_the_default_when_none_was_addressed(self) -> None:
        assert pick_for_reply([WORK, HOME], ["someone@else.example"]) is HOME

    def test_the_first_when_none_is_default(self) -> None:
        assert pick_for_reply([WORK], []) is WORK


def test_login_without_domain_gets_localhost() -> None:
    assert login_address("anna") == "anna@localhost"
    assert login_address("anna@example.org") == "anna@example.org"


def test_from_header_quotes_the_name() -> None:
    assert (
        SenderIdentity(None, "Anna, Work", "anna@example.org").from_header
        == '"Anna, Work" <anna@example.org>'
    )
