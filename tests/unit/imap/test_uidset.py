"""The one UID-set parser: ranges kept as ranges, never expanded beyond a limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.imap.uidset import MAX_UID, UIDSet, parse_uid_set, uid_set

uids = st.integers(min_value=1, max_value=MAX_UID)


def test_ranges_stay_ranges() -> None:
    huge = parse_uid_set("1:4000000000")
    assert huge.ranges == ((1, 4_000_000_000),)
    assert huge.span == 4_000_000_000
    assert 3_999_999_999 in huge
    assert 4_000_000_001 not in huge
    with pytest.raises(ValueError, match="more than 100000 UIDs"):
        huge.expand(limit=100_000)


def test_parts_are_sorted_merged_and_either_order() -> None:
    assert str(parse_uid_set("9:7,1,2,3,5:6")) == "1:3,5:9"
    assert parse_uid_set("4,4,4").expand(10) == [4]
    assert parse_uid_set("") == UIDSet()


@pytest.mark.parametrize(
    "text", ["0", "1:0", "x", "1:2:3", "-1", "4294967296", "١٢", "1 2", "*", "1:*", "9" * 40]
)
def test_malformed_sets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_uid_set(text)


def test_too_many_parts_are_refused_before_parsing() -> None:
    with pytest.raises(ValueError, match="too many ranges"):
        parse_uid_set(",".join(["1"] * 101), max_ranges=100)


def test_chunks_cover_the_set() -> None:
    whole = parse_uid_set(",".join(str(n) for n in range(1, 100, 2)))
    pieces = list(whole.chunks(7))
    assert all(len(piece.ranges) <= 7 for piece in pieces)
    assert [r for piece in pieces for r in piece.ranges] == list(whole.ranges)


@given(st.lists(uids, max_size=200))
def test_written_sets_read_back_as_the_same_uids(values: list[int]) -> None:
    text = uid_set(values)
    parsed = parse_uid_set(text)
    assert parsed.expand(len(values)) == sorted(set(values))
    assert len(str(parsed)) <= len(text)


@given(st.lists(st.tuples(uids, uids), max_size=50))
def test_span_and_membership_agree_with_the_ranges(pairs: list[tuple[int, int]]) -> None:
    parsed = parse_uid_set(",".join(f"{a}:{b}" for a, b in pairs))
    for a, b in pairs:
        assert a in parsed
        assert b in parsed
    ranges = parsed.ranges
    assert all(low <= high for low, high in ranges)
    assert all(ranges[i][1] + 1 < ranges[i + 1][0] for i in range(len(ranges) - 1))
    assert parsed.span == sum(high - low + 1 for low, high in ranges)


@given(st.text(alphabet="0123456789:,*- x", max_size=60))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        parsed = parse_uid_set(text)
    except ValueError:
        return
    assert all(1 <= low <= high <= MAX_UID for low, high in parsed.ranges)
