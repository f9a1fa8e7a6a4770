from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.limits import DEFAULT_LIMITS, Limits
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


class TestOperators:
    @pytest.mark.parametrize(
        ("text", "criteria"),
        [
            ("from:anna", ["FROM", b"anna"]),
            ("to:bo@example.org", ["TO", b"bo@example.org"]),
            ("cc:team", ["CC", b"team"]),
            ("subject:invoice", ["SUBJECT", b"invoice"]),
            ("body:total", ["BODY", b"total"]),
            ("is:unread", ["UNSEEN"]),
            ("is:read", ["SEEN"]),
            ("is:flagged", ["FLAGGED"]),
            ("is:starred", ["FLAGGED"]),
            ("is:answered", ["ANSWERED"]),
            ("is:replied", ["ANSWERED"]),
            ("is:UNREAD", ["UNSEEN"]),
            ("has:attachment", ["HEADER", b"Content-Type", b"multipart/mixed"]),
            ("has:attachments", ["HEADER", b"Content-Type", b"multipart/mixed"]),
            ("before:2026-01-31", ["SENTBEFORE", date(2026, 1, 31)]),
            ("after:2026-01-31", ["SENTSINCE", date(2026, 1, 31)]),
            ("older_than:3d", ["SENTBEFORE", date(2026, 11, 23)]),
            ("older_than:1y", ["SENTBEFORE", date(2025, 11, 26)]),
            ("newer_than:2m", ["SENTSINCE", date(2026, 9, 27)]),
            ("newer_than:0d", ["SENTSINCE", TODAY]),
            ("larger:5M", ["LARGER", 5 * 1024**2]),
            ("larger:1.5k", ["LARGER", 1536]),
            ("larger:2000", ["LARGER", 2000]),
            ("smaller:100KB", ["SMALLER", 100 * 1024]),
            ("smaller:1g", ["SMALLER", 1024**3]),
        ],
    )
    def test_each_operator(self, text: str, criteria: list[object]) -> None:
        query = parse_search(text, today=TODAY)
        assert query.criteria == criteria
        assert query.folder is None

    def test_field_values_are_highlighted_flags_are_not(self) -> None:
        assert parse_search("from:anna is:unread larger:1M body:total", today=TODAY).words == [
            "anna",
            "total",
        ]

    def test_in_names_the_folder_and_searches_everything_else(self) -> None:
        query = parse_search('in:"Projects/Big one"', today=TODAY)
        assert (query.folder, query.criteria, query.words) == ("Projects/Big one", ["ALL"], [])

    def test_the_last_in_wins(self) -> None:
        assert parse_search("in:a x in:b", today=TODAY).folder == "b"

    def test_values_keep_colons(self) -> None:
        assert parse_search("subject:re:re:x", today=TODAY).criteria == ["SUBJECT", b"re:re:x"]

    def test_unknown_looking_prefixes_are_words(self) -> None:
        # Operators are lowercase letters and underscores; anything else is text to find.
        for text in ("Foo:bar", "FROM:x", "_:x", "12:30", "ftp://x.example", "a1:b"):
            assert parse_search(text, scope=["subject"], today=TODAY).criteria == ["SUBJECT", text.encode()]


class TestQuotingAndNegation:
    def test_phrases(self) -> None:
        query = parse_search('"quarterly report" subject:"big meeting"', scope=["subject"], today=TODAY)
        assert query.criteria == ["SUBJECT", b"quarterly report", "SUBJECT", b"big meeting"]
        assert query.words == ["quarterly report", "big meeting"]

    def test_quotes_inside_a_word_are_kept(self) -> None:
        assert tokenize('a"b c"d') == ['a"b c"d']
        assert parse_search('a"b c"d', scope=["body"], today=TODAY).criteria == ["BODY", b'a"b c"d']

    def test_negated_word_phrase_and_operator(self) -> None:
        assert parse_search("-draft", scope=["subject"], today=TODAY).criteria == ["NOT", "SUBJECT", b"draft"]
        assert parse_search('-"draft copy"', scope=["subject"], today=TODAY).criteria == [
            "NOT",
            "SUBJECT",
            b"draft copy",
        ]
        assert parse_search("-is:read", today=TODAY).criteria == ["NOT", "SEEN"]
        assert parse_search("-larger:1M", today=TODAY).criteria == ["NOT", "LARGER", 1024**2]

    def test_negated_words_are_not_highlighted(self) -> None:
        assert parse_search("invoice -draft", today=TODAY).words == ["invoice"]

    def test_double_negation(self) -> None:
        assert parse_search("--x", scope=["body"], today=TODAY).criteria == ["BODY", b"x"]  # NOT NOT x is x

    def test_a_lone_dash_is_a_word(self) -> None:
        assert parse_search("-", scope=["body"], today=TODAY).criteria == ["BODY", b"-"]

    def test_whitespace_of_any_kind_separates(self) -> None:
        assert tokenize("a\tb\u3000c\nd") == ["a", "b", "c", "d"]


class TestOr:
    def test_chain(self) -> None:
        query = parse_search("subject:a OR subject:b OR subject:c", today=TODAY)
        assert query.criteria == ["OR", "OR", "SUBJECT", b"a", "SUBJECT", b"b", "SUBJECT", b"c"]
        assert query.words == ["a", "b", "c"]

    def test_binds_tighter_than_and(self) -> None:
        query = parse_search("from:x subject:a OR subject:b is:unread", today=TODAY)
        assert query.criteria == ["FROM", b"x", "OR", "SUBJECT", b"a", "SUBJECT", b"b", "UNSEEN"]

    def test_with_negation(self) -> None:
        assert parse_search("-is:read OR is:flagged", today=TODAY).criteria == [
            "OR",
            "NOT",
            "SEEN",
            "FLAGGED",
        ]

    def test_lowercase_or_is_a_word(self) -> None:
        assert parse_search("this or that", scope=["body"], today=TODAY).criteria == [
            "BODY", b"this", "BODY", b"or", "BODY", b"that",
        ]  # fmt: skip

    def test_in_with_or_is_refused(self) -> None:
        with pytest.raises(QueryError, match="cannot join in: folders"):
            parse_search("a OR in:X", today=TODAY)


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "Type something to search for."),
            ('"unclosed phrase', "A quotation mark is not closed."),
            ('""', 'An empty phrase ("") cannot be searched for.'),
            ("OR x", "“OR” needs a search term on each side."),
            ("x OR", "“OR” needs a search term on each side."),
            ("x OR OR y", "“OR” needs a search term on each side."),
            ("from:", "“from:” needs a value after the colon."),
            ('subject:""', "“subject:” needs a value after the colon."),
            ("foo:bar", "“foo:” is not a search operator."),
            ("-foo:bar", "“foo:” is not a search operator."),
            ("is:bogus", "“is:bogus” is not known; use is:unread, is:read, is:flagged or is:answered."),
            ("has:pdf", "“has:pdf” is not known; use has:attachment."),
            ("before:yesterday", "“before:yesterday”: dates are written YYYY-MM-DD, e.g. before:2026-01-31."),
            ("after:2026-02-30", "“after:2026-02-30”: dates are written YYYY-MM-DD, e.g. after:2026-01-31."),
            ("older_than:soon", "“older_than:soon”: use a number and d, w, m or y, e.g. older_than:7d."),
            ("newer_than:3h", "“newer_than:3h”: use a number and d, w, m or y, e.g. newer_than:7d."),
            ("older_than:99999999999y", "“older_than:99999999999y” reaches back too far."),
            ("newer_than:3000y", "“newer_than:3000y” reaches back too far."),
            ("larger:huge", "“larger:huge”: use a size such as 5M, 100K or 2000."),
            ("smaller:1e9", "“smaller:1e9”: use a size such as 5M, 100K or 2000."),
            ("larger:" + "9" * 400, f"“larger:{'9' * 400}” is larger than any message can be."),
            ("larger:9999999999G", "“larger:9999999999G” is larger than any message can be."),
            (
                "smaller:12345678901234567890",
                "“smaller:12345678901234567890” is larger than any message can be.",
            ),
            ("-in:Archive", "“-in:” is not supported: search a folder with in:folder."),
        ],
    )
    def test_messages_name_the_part_not_understood(self, text: str, message: str) -> None:
        with pytest.raises(QueryError) as raised:
            parse_search(text, today=TODAY)
        assert raised.value.user_message == message
        assert raised.value.status_code == 422

    def test_the_first_bad_part_is_named(self) -> None:
        with pytest.raises(QueryError, match="“is:nope”"):
            parse_search("from:anna is:nope foo:bar", today=TODAY)


GENEROUS = Limits(max_search_terms=10_000, max_search_length=1_000_000)


class TestLongInput:
    def test_a_very_long_word(self) -> None:
        word = "x" * 100_000
        assert parse_search(word, scope=["body"], today=TODAY, limits=GENEROUS).criteria == [
            "BODY",
            word.encode(),
        ]

    def test_many_terms(self) -> None:
        query = parse_search(" ".join(f"from:p{i}" for i in range(5000)), today=TODAY, limits=GENEROUS)
        assert len(query.criteria) == 10_000
        assert query.words[-1] == "p4999"

    def test_a_long_or_chain(self) -> None:
        query = parse_search(" OR ".join(["is:unread"] * 2000), today=TODAY, limits=GENEROUS)
        assert query.criteria.count("OR") == 1999

    def test_the_default_limits_name_themselves(self) -> None:
        with pytest.raises(QueryError, match=f"at most {DEFAULT_LIMITS.max_search_terms} terms"):
            parse_search(" OR ".join(["is:unread"] * 40_000)[: DEFAULT_LIMITS.max_search_length], today=TODAY)
        with pytest.raises(QueryError, match=f"at most {DEFAULT_LIMITS.max_search_length} characters"):
            parse_search("x" * (DEFAULT_LIMITS.max_search_length + 1), today=TODAY)

    def test_dashes_negate_without_recursion(self) -> None:
        assert parse_search("-" * 990 + "x", scope=["body"], today=TODAY).criteria == ["BODY", b"x"]
        assert parse_search("-" * 989 + "x", scope=["body"], today=TODAY).criteria == ["NOT", "BODY", b"x"]
        assert parse_search("-" * 990, scope=["body"], today=TODAY).criteria == ["NOT", "BODY", b"-"]

    def test_a_long_unclosed_phrase(self) -> None:
        with pytest.raises(QueryError):
            parse_search('"' + "a " * 50_000, today=TODAY)


TOKENS = st.sampled_from(
    ["from:", "to:", "subject:", "is:", "has:", "in:", "before:", "after:", "older_than:", "newer_than:",
     "larger:", "smaller:", "OR", "-", '"', ":", "unread", "attachment", "2026-01-31", "7d", "5M", "9" * 30,
     " ", "\r\n", "\x00", "(", ")", "*", "%", "\\", "é", "x"]
)  # fmt: skip


@given(st.lists(TOKENS | st.text(max_size=5), max_size=20).map("".join))
def test_only_query_errors_escape(text: str) -> None:
    try:
        query = parse_search(text, today=TODAY)
    except QueryError:
        return  # anything else fails the test
    for item in query.criteria:
        if isinstance(item, bytes):
            assert isinstance(item, SearchText)
            assert not any(ch in item for ch in b"\r\n\x00")
        else:
            assert isinstance(item, (str, int, date))
