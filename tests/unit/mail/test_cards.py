"""Address book exchange: vCard 3.0/4.0 and CSV in and out, with hostile and broken files."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.cards import EMAIL, Card, dump_csv, dump_vcards, parse_csv, parse_vcards


def vcard(*lines: str) -> str:
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", *lines, "END:VCARD"]) + "\r\n"


class TestEmailPattern:
    @pytest.mark.parametrize("address", ["anna@example.org", "a.b+tag@sub.example.co.uk", "root@localhost"])
    def test_valid(self, address: str) -> None:
        assert EMAIL.match(address)

    @pytest.mark.parametrize(
        "address",
        [
            "",
            "anna",
            "@example.org",
            "anna@",
            "a b@x.org",
            "a@b@c",
            "<a@x.org>",
            "a@x.org\n",
            "a@x.org\r\nBcc: b@x.org",
        ],
    )
    def test_invalid(self, address: str) -> None:
        assert not EMAIL.match(address)


class TestParseVcards:
    def test_a_full_card(self) -> None:
        cards = parse_vcards(
            vcard(
                r"FN:Anna Berg\, PhD",
                "N:Berg;Anna;;;",
                "EMAIL;TYPE=INTERNET;TYPE=pref:anna@example.org",
                "item1.EMAIL:mailto:a2@example.org",
                r"NOTE:line one\nline two",
                r"CATEGORIES:Work,Friends\,old",
            )
        )
        assert cards == [
            Card(
                "Anna Berg, PhD",
                ["anna@example.org", "a2@example.org"],
                "line one\nline two",
                ["Work", "Friends,old"],
            )
        ]

    def test_structured_name_when_fn_is_missing(self) -> None:
        assert parse_vcards(vcard("N:Solo;Han;;;")) == [Card("Han Solo")]
        assert parse_vcards(vcard("N:Cher;;;;")) == [Card("Cher")]

    def test_folded_lines(self) -> None:
        assert (
            parse_vcards(vcard("FN:F", "NOTE:first", "  second", "\tthird"))[0].notes == "first secondthird"
        )

    def test_bad_and_duplicate_addresses_are_skipped(self) -> None:
        card = parse_vcards(
            vcard("FN:X", "EMAIL:not an address", "EMAIL:x@example.org", "EMAIL:x@example.org")
        )[0]
        assert card.emails == ["x@example.org"]

    def test_cards_without_name_or_address_are_skipped(self) -> None:
        assert parse_vcards(vcard("FN:", "NOTE:only a note")) == []

    def test_several_cards_and_line_endings(self) -> None:
        text = vcard("FN:A").replace("\r\n", "\n") + vcard("FN:B").replace("\r\n", "\r")
        assert [card.name for card in parse_vcards(text)] == ["A", "B"]

    def test_lowercase_and_grouped_properties(self) -> None:
        assert parse_vcards("begin:vcard\nfn:lower\nwork.email:l@example.org\nend:vcard\n") == [
            Card("lower", ["l@example.org"])
        ]

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "garbage without colons",
            "END:VCARD\r\nFN:outside any card\r\n",
            "BEGIN:VCARD\r\nFN:never ended\r\n",
            "BEGIN:VCARD\r\nBEGIN:VCARD\r\nFN:nested\r\nEND:VCARD\r\nEND:VCARD\r\n",
            " leading fold\r\n",
            "\x00BEGIN:VCARD\x00",
        ],
    )
    def test_broken_files_never_raise(self, text: str) -> None:
        assert all(card.name or card.emails for card in parse_vcards(text))

    def test_a_card_started_again_drops_the_unfinished_one(self) -> None:
        text = "BEGIN:VCARD\r\nFN:first\r\nBEGIN:VCARD\r\nFN:second\r\nEND:VCARD\r\n"
        assert parse_vcards(text) == [Card("second")]


class TestDumpVcards:
    def test_format(self) -> None:
        assert dump_vcards([Card("Anna", ["anna@example.org"], "hi", ["Work"])]) == (
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna\r\nN:Anna;;;;\r\nEMAIL;TYPE=INTERNET:anna@example.org\r\n"
            "NOTE:hi\r\nCATEGORIES:Work\r\nEND:VCARD\r\n"
        )

    def test_nameless_card_uses_its_address(self) -> None:
        assert "FN:x@example.org\r\n" in dump_vcards([Card("", ["x@example.org"])])

    @pytest.mark.parametrize(
        "name",
        ["Anna\r\nEMAIL:evil@example.org", "Anna\rEMAIL:evil@example.org", "Anna\nEMAIL:evil@example.org"],
    )
    def test_line_breaks_cannot_add_properties(self, name: str) -> None:
        exported = dump_vcards([Card(name, ["anna@example.org"])])
        assert exported.count("\r\n") == 6
        assert parse_vcards(exported)[0].emails == ["anna@example.org"]

    def test_special_characters_round_trip(self) -> None:
        cards = [Card("Berg; Anna, \\ Dr.", ["a@example.org"], "a;b,c\\d\nnext", ["x,y", "z;w"])]
        assert parse_vcards(dump_vcards(cards)) == cards


class TestCsv:
    def test_outlook_export(self) -> None:
        text = "\ufeffFirst Name,Last Name,E-mail Address,E-mail 2 Address,Categories,Notes\r\nAnna,Berg,anna@example.org,a2@example.org,Work;Family,hello\r\n"
        assert parse_csv(text) == [
            Card("Anna Berg", ["anna@example.org", "a2@example.org"], "hello", ["Work", "Family"])
        ]

    def test_google_export(self) -> None:
        text = "Name,Group Membership,E-mail 1 - Value\nBo,* myContacts ::: Friends,bo@example.org ::: b2@example.org\n"
        assert parse_csv(text) == [Card("Bo", ["bo@example.org", "b2@example.org"], "", ["Friends"])]

    def test_own_export_round_trips(self) -> None:
        cards = [
            Card("Berg, Anna", ["a@example.org", "b@example.org"], "multi\nline", ["A", "B"]),
            Card("", ["c@example.org"]),
        ]
        assert parse_csv(dump_csv(cards)) == cards

    def test_rows_without_name_or_address_are_skipped(self) -> None:
        assert parse_csv("Name,Email\n,\n,not-an-address\n") == []

    @pytest.mark.parametrize(
        "text", ["", "garbage", 'a,b\n"unclosed', "\x00,\x00\n\x00", "Name\n" + "x" * 10_000, ",,,\n,,,"]
    )
    def test_broken_files_never_raise(self, text: str) -> None:
        assert all(card.name or card.emails for card in parse_csv(text))

    def test_extra_cells_are_ignored(self) -> None:
        assert parse_csv("Name,Email\nAnna,a@example.org,surplus,cells\n") == [
            Card("Anna", ["a@example.org"])
        ]

    def test_bare_carriage_returns_end_rows(self) -> None:
        assert parse_csv("Name,Email\rAnna,a@example.org\rBo,b@example.org") == [
            Card("Anna", ["a@example.org"]), Card("Bo", ["b@example.org"]),
        ]  # fmt: skip

    def test_a_field_past_the_size_limit_keeps_the_rows_before_it(self) -> None:
        text = 'Name,Email\nAnna,a@example.org\n"' + "x" * (csv.field_size_limit() + 1) + '",b@example.org\n'
        assert parse_csv(text) == [Card("Anna", ["a@example.org"])]

    @pytest.mark.parametrize(
        "name", ['=HYPERLINK("https://evil.example")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    )
    def test_formulas_are_exported_as_text(self, name: str) -> None:
        exported = dump_csv([Card(name, ["a@example.org"], name, [name])])
        row = list(csv.reader(io.StringIO(exported)))[1]
        assert row[0] == row[2] == row[3] == "'" + name
        assert parse_csv(exported) == [Card(name.strip(), ["a@example.org"], name.strip(), [name.strip()])]

    def test_an_apostrophe_before_ordinary_text_is_kept(self) -> None:
        assert parse_csv("Name,Email\n'Tis me,t@example.org\n")[0].name == "'Tis me"


NAMES = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20).map(str.strip)
ADDRESSES = st.lists(
    st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(org|com)", fullmatch=True), max_size=3, unique=True
)


@given(st.lists(st.builds(Card, NAMES, ADDRESSES), max_size=5))
def test_vcards_round_trip(cards: list[Card]) -> None:
    kept = [card for card in cards if card.name or card.emails]
    parsed = parse_vcards(dump_vcards(cards))
    assert [(c.name or c.emails[0], c.emails) for c in parsed] == [
        (c.name or c.emails[0], c.emails) for c in kept
    ]


@given(st.text(max_size=300))
def test_any_text_parses(text: str) -> None:
    for card in parse_vcards(text) + parse_csv(text):
        assert all(EMAIL.match(address) for address in card.emails)
