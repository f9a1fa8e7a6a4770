from __future__ import annotations

from datetime import date

import pytest

from webmail.mail.query import QueryError, SearchText, parse_search, tokenize

TODAY = date(2026, 11, 26)


def test_tokenize_keeps_phrases() -> None:
    assert tokenize('from:"Anna Berg" hello -"draft copy"') == ['from:"Anna Berg"', "hello", '-"draft copy"']


def test_words_search_every_field_in_prefix_form() -> None:
    query = parse_search("invoice", today=TODAY)
    assert query.criteria == ["OR", "FROM", b"invoice", "OR", "TO", b"invoice", "OR", "CC", b"invoice",
                              "OR", "SUBJECT", b"invoice", "BODY", b"invoice"]  # fmt: skip
    assert all(isinstance(item, SearchText) for item in query.criteria if isinstance(item, bytes))
    assert query.words == ["invoice"]


def test_operators_and_combinations() -> None:
    query = parse_search("from:anna -subject:draft is:unread larger:5M older_than:2w in:Archive", today=TODAY)
    assert query.criteria == ["FROM", b"anna", "NOT", "SUBJECT", b"draft", "UNSEEN", "LARGER", 5 * 1024 * 1024,
                              "SENTBEFORE", date(2026, 11, 12)]  # fmt: skip
    assert query.folder == "Archive"


def test_or_joins_neighbours() -> None:
    query = parse_search("subject:a OR subject:b from:c", scope=["subject"], today=TODAY)
    assert query.criteria == ["OR", "SUBJECT", b"a", "SUBJECT", b"b", "FROM", b"c"]


def test_unsafe_characters_become_spaces() -> None:
    query = parse_search('subject:"a\r\nb\x00c"', today=TODAY)
    assert query.criteria == ["SUBJECT", b"a  b c"]


@pytest.mark.parametrize("text", ["", "   ", "OR", "a OR", "x:1", "is:", '"unclosed', "newer_than:soon"])
def test_errors(text: str) -> None:
    with pytest.raises(QueryError):
        parse_search(text, today=TODAY)


def test_urls_and_times_are_words() -> None:
    assert parse_search("https://example.org/x", today=TODAY).words == ["https://example.org/x"]
    assert parse_search("10:30", today=TODAY).words == ["10:30"]
