"""Tags are IMAP keywords; Thunderbird's $label1-5 keep their names and colours."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.tags import HIDDEN, LABELS, Tag, tags_of, valid_keyword


class TestTagsOf:
    def test_labels_first_in_their_order_then_the_rest_alphabetically(self) -> None:
        assert tags_of(("Zeta", "$label3", "alpha", "$LABEL1", "Beta")) == [
            Tag("$label1", "Important", "red"), Tag("$label3", "Personal", "green"),
            Tag("alpha", "alpha", "plain"), Tag("Beta", "Beta", "plain"), Tag("Zeta", "Zeta", "plain"),
        ]  # fmt: skip

    def test_every_thunderbird_label(self) -> None:
        assert [tag.name for tag in tags_of(frozenset(LABELS))] == [
            "Important",
            "Work",
            "Personal",
            "To do",
            "Later",
        ]

    @pytest.mark.parametrize(
        "keyword",
        [
            "\\Seen",
            "\\Flagged",
            "\\Answered",
            "$Junk",
            "NonJunk",
            "$Forwarded",
            "$MDNSent",
            "$MailFlagBit0",
            "$mailflagbit2",
        ],
    )
    def test_system_flags_and_machinery_are_hidden(self, keyword: str) -> None:
        assert tags_of((keyword,)) == []

    def test_no_keywords(self) -> None:
        assert tags_of(()) == []
        assert tags_of(frozenset()) == []

    def test_unknown_keywords_keep_their_spelling(self) -> None:
        assert tags_of(("ProjectX",)) == [Tag("ProjectX", "ProjectX", "plain")]


class TestValidKeyword:
    @pytest.mark.parametrize("keyword", ["work", "$work", "a.b-c_d", "$label1", "$Label5", "x" * 64, "2026"])
    def test_valid(self, keyword: str) -> None:
        assert valid_keyword(keyword)

    @pytest.mark.parametrize(
        "keyword",
        ["", "$", "x" * 65, "a b", "a*", "a%", "\\Seen", 'a"b', "a(b", "a)b", "a]b", "a{3}", "é", "$junk", "$Forwarded",
         "x\n", "x\r\n", "x\r\nA1 DELETE INBOX", "\x00"],
    )  # fmt: skip
    def test_invalid(self, keyword: str) -> None:
        assert not valid_keyword(keyword)


@given(st.text(max_size=70))
def test_a_valid_keyword_is_one_imap_atom(keyword: str) -> None:
    if valid_keyword(keyword):
        assert not any(ch in keyword for ch in ' ()"{}%*\\]\r\n\x00')
        assert keyword.isascii()
        assert keyword.lower() not in HIDDEN
        assert 1 <= len(keyword.removeprefix("$")) <= 64


@given(st.lists(st.text(max_size=10), max_size=10))
def test_tags_of_never_shows_hidden_or_system_flags(keywords: list[str]) -> None:
    for tag in tags_of(tuple(keywords)):
        assert tag.keyword.lower() not in HIDDEN
        assert not tag.keyword.startswith("\\")
