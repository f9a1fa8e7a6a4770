"""Header values: encoded words (RFC 2047), raw 8-bit bytes, line-break injection, dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.headers import decode_raw_header, decode_words, parse_date


class TestEncodedWords:
    @pytest.mark.parametrize(
        ("raw", "text"),
        [
            ("=?utf-8?q?Caf=C3=A9?= au lait", "Café au lait"),
            ("Re: =?UTF-8?B?w6nDqQ==?=", "Re: éé"),
            ("=?iso-8859-1?q?caf=E9?=", "café"),
            ("=?utf-8?q?a_b?=", "a b"),
            ("=?UTF-8?Q?=F0=9F=98=80?= smile", "😀 smile"),
            ("plain =?utf-8?q?mid?= plain", "plain mid plain"),
            ("=?utf-8*en?q?with_language?=", "with language"),  # RFC 2231 language tag
        ],
    )
    def test_decoded(self, raw: str, text: str) -> None:
        assert decode_words(raw) == text

    def test_whitespace_between_adjacent_words_is_dropped(self) -> None:
        assert decode_words("=?utf-8?q?Hello?= =?utf-8?q?World?=") == "HelloWorld"  # RFC 2047 section 6.2

    def test_character_split_across_two_q_words(self) -> None:
        assert decode_words("=?utf-8?q?Caf=C3?=\r\n =?utf-8?q?=A9?=") == "Café"

    def test_character_split_across_two_b_words(self) -> None:
        assert decode_words("=?utf-8?B?ww==?= =?utf-8?B?qQ==?=") == "é"

    def test_different_charsets_side_by_side(self) -> None:
        assert decode_words("=?iso-8859-1?q?=E9?= =?koi8-r?b?8NLJ18XU?=") == "éПривет"

    @pytest.mark.parametrize(
        "raw",
        [
            "=?utf-8?q?never closed",
            "=?utf-8?x?unknown-encoding?=",
            "=?utf-8?B?w6?= =?utf-8?B?k=?=",  # each word must hold whole base64 quanta
            "=?utf-8?b?!!!notbase64?=",
        ],
    )
    def test_broken_words_are_shown_as_written(self, raw: str) -> None:
        assert decode_words(raw) == raw

    @pytest.mark.parametrize("charset", ["klingon", "base64", "rot13", "undefined", "idna", ""])
    def test_unknown_or_hostile_charset_never_raises(self, charset: str) -> None:
        assert decode_words(f"=?{charset}?q?ordinary_text?=") == "ordinary text"

    def test_8bit_inside_an_unknown_charset_word_keeps_the_ascii(self) -> None:
        assert decode_words("=?klingon?q?caf=E9?=").startswith("caf")


class TestRawBytes:
    def test_utf8_bytes(self) -> None:
        assert decode_words("Grüße".encode()) == "Grüße"

    def test_mixed_utf8_and_windows_1252(self) -> None:
        assert decode_raw_header(b"caf\xc3\xa9 und caf\xe9 f\xfcr 5 \x80") == "café und café für 5 €"

    def test_surrogate_escaped_str_from_the_email_package(self) -> None:
        # email's parsers hand undecodable header bytes over as lone surrogates.
        assert decode_words("caf\udce9 ok") == "café ok"
        assert decode_words("caf\udcc3\udca9") == "café"

    def test_nul_bytes_are_removed(self) -> None:
        assert decode_raw_header(b"a\x00b") == "ab"

    def test_none_and_empty(self) -> None:
        assert decode_words(None) == ""
        assert decode_words(b"") == ""
        assert decode_words("") == ""


class TestLineBreaks:
    def test_folding_is_undone(self) -> None:
        assert decode_words("A long\r\n\tsubject\n  folded") == "A long subject folded"

    @pytest.mark.parametrize(
        "raw",
        [
            "=?utf-8?q?Hello=0D=0ABcc:_victim@example.org?=",
            "=?utf-8?b?SGVsbG8NCkJjYzogdmljdGltQGV4YW1wbGUub3Jn?=",
            "Hello\rBcc: victim@example.org",
            b"Hello\r\nBcc: victim@example.org",
            "=?utf-8?q?Hello=0ABcc:_victim@example.org?=",
        ],
    )
    def test_decoded_line_breaks_cannot_start_a_header(self, raw: str | bytes) -> None:
        assert decode_words(raw) == "Hello Bcc: victim@example.org"

    def test_control_characters_are_removed(self) -> None:
        assert decode_words("a\x00b\x07c\x1bd\x7fe") == "abcde"
        assert decode_words("=?utf-8?q?=00=07=1B=7F?=x") == "x"

    def test_tab_is_kept(self) -> None:
        assert decode_words("a\tb") == "a\tb"


@given(st.text(max_size=120) | st.binary(max_size=120))
def test_any_value_decodes_to_one_clean_line(raw: str | bytes) -> None:
    text = decode_words(raw)
    assert not any(ch in text for ch in "\r\n\x00\x1b\x7f")
    assert text == text.strip()


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=60))
def test_encoded_words_round_trip(text: str) -> None:
    encoded = Header(text, "utf-8").encode()
    assert decode_words(encoded) == text.strip()


class TestDates:
    def test_ordinary_date(self) -> None:
        assert parse_date("Thu, 26 Nov 2026 10:30:00 +0100") == datetime(
            2026, 11, 26, 10, 30, tzinfo=timezone(timedelta(hours=1))
        )

    def test_obsolete_zone_names(self) -> None:
        assert parse_date("26 Nov 2026 10:30:00 EST") == datetime(
            2026, 11, 26, 10, 30, tzinfo=timezone(timedelta(hours=-5))
        )

    @pytest.mark.parametrize(
        "value",
        [
            None,
            "",
            "   ",
            "garbage",
            "Mon, 32 Jan 2026 25:61:61 +0000",
            "Mon, 01 Jan 2026 00:00:00 +9999",  # offset past a day
            "Mon, 01 Jan 2026 00:00:00 -0000",  # RFC 5322: no zone information
            "Mon, 01 Jan 2026 00:00:00",
            "1 Jan 10000 00:00 +0000",
            "Mon, 01 Jan 99999999999999999999 00:00:00 +0000",
            "Fri, 31 Dec 9999 23:59:59 -1200",  # past datetime.max in UTC: poisoned the list page
            "Fri, 31 Dec 9999 12:00:00 +0000",  # the last day: past datetime.max at +1400
            "\x00\r\nDate: Mon, 01 Jan 2026 00:00:00 +0000",
        ],
    )
    def test_unusable_dates_are_none(self, value: str | None) -> None:
        assert parse_date(value) is None

    def test_every_date_returned_shows_in_every_zone(self) -> None:
        when = parse_date("Thu, 30 Dec 9999 00:00:00 +0000")
        assert when is not None
        for hours in (-12, 14):
            assert when.astimezone(timezone(timedelta(hours=hours))).year == 9999


@given(st.text(max_size=60))
def test_parse_date_never_raises(value: str) -> None:
    when = parse_date(value)
    if when is not None:
        assert when.tzinfo is not None
        when.astimezone(UTC)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9998, 12, 31)), st.integers(-719, 839))
def test_formatted_dates_round_trip(when: datetime, offset_minutes: int) -> None:
    aware = when.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert parse_date(format_datetime(aware)) == aware
