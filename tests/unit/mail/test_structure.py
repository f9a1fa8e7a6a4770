"""The MIME tree from BODYSTRUCTURE (RFC 3501 section 7.4.2) and what of it is shown or listed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.mail.bodystructures import ENVELOPE, HTML, LOGO, PDF, PLAIN, raw, structure
from webmail.mail.structure import MAX_DEPTH, BodyPart, Layout, layout, parse_bodystructure


def plan(wire: str, *, prefer_html: bool = True) -> Layout:
    return layout(structure(wire), prefer_html=prefer_html)


def sections(parts: list[BodyPart]) -> list[str]:
    return [part.section for part in parts]


class TestParse:
    def test_rfc3501_example(self) -> None:
        root = structure(
            '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
            '("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>"'
            ' "Compiler diff" "BASE64" 4554 73) "MIXED")'
        )
        assert (root.section, root.content_type, root.is_multipart) == ("TEXT", "multipart/mixed", True)
        first, second = root.children
        assert (first.section, first.content_type, first.charset, first.encoding, first.size) == (
            "1", "text/plain", "US-ASCII", "7bit", 1152,
        )  # fmt: skip
        assert second.section == "2"
        assert second.filename == "cc.diff"
        assert second.content_id == "<960723163407.20117h@cac.washington.edu>"
        assert second.description == "Compiler diff"
        assert second.encoding == "base64"

    def test_single_part_is_section_1(self) -> None:
        part = structure(PLAIN)
        assert (part.section, part.content_type, part.children) == ("1", "text/plain", [])

    def test_nested_sections(self) -> None:
        root = structure(f'(({PLAIN}{HTML} "ALTERNATIVE"){PDF} "MIXED")')
        assert [(p.section, p.content_type) for p in root.walk()] == [
            ("TEXT", "multipart/mixed"), ("1", "multipart/alternative"), ("1.1", "text/plain"),
            ("1.2", "text/html"), ("2", "application/pdf"),
        ]  # fmt: skip

    def test_embedded_message_sections(self) -> None:
        root = structure(
            f'({PLAIN}("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 {ENVELOPE} ({PLAIN}{PDF} "MIXED") 30 NIL NIL NIL) "MIXED")'
        )
        message = root.children[1]
        assert message.content_type == "message/rfc822"
        assert message.envelope is not None
        assert message.message is not None
        assert [(p.section, p.content_type) for p in message.message.walk()] == [
            ("2", "multipart/mixed"), ("2.1", "text/plain"), ("2.2", "application/pdf"),
        ]  # fmt: skip

    def test_embedded_single_part_message_is_section_n_1(self) -> None:
        root = structure(f'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 {ENVELOPE} {PLAIN} 30 NIL NIL NIL)')
        assert root.message is not None
        assert root.message.section == "1.1"

    def test_disposition_and_filename(self) -> None:
        part = structure(PDF)
        assert (part.disposition, part.filename, part.is_attachment) == ("attachment", "report.pdf", True)

    def test_name_parameter_is_the_fallback_filename(self) -> None:
        assert structure('("APPLICATION" "ZIP" ("NAME" "a.zip") NIL NIL "BASE64" 10)').filename == "a.zip"

    def test_encoded_word_filename(self) -> None:
        part = structure(
            '("APPLICATION" "PDF" ("NAME" "=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=") NIL NIL "BASE64" 10)'
        )
        assert part.filename == "Résumé.pdf"

    def test_rfc2231_continuations_with_charset(self) -> None:
        part = structure(
            '("APPLICATION" "PDF" NIL NIL NIL "BASE64" 10 NIL'
            ' ("ATTACHMENT" ("FILENAME*0*" "utf-8\'\'R%C3%A9su" "FILENAME*1*" "m%C3%A9.pdf")) NIL)'
        )
        assert part.filename == "Résumé.pdf"

    def test_rfc2231_continuations_without_encoding(self) -> None:
        part = structure(
            '("APPLICATION" "PDF" NIL NIL NIL "BASE64" 10 NIL'
            ' ("ATTACHMENT" ("FILENAME*1" "part.pdf" "FILENAME*0" "long-")) NIL)'
        )
        assert part.filename == "long-part.pdf"

    def test_rfc2231_latin1_filename(self) -> None:
        part = structure(
            '("APPLICATION" "PDF" NIL NIL NIL "BASE64" 10 NIL ("ATTACHMENT" ("FILENAME*" "iso-8859-1\'\'caf%E9.pdf")) NIL)'
        )
        assert part.filename == "café.pdf"

    @pytest.mark.parametrize("value", ["bogus'%ZZ", "klingon''%FF%FE", "base64''%FF", "''", "%"])
    def test_broken_rfc2231_value_never_raises(self, value: str) -> None:
        part = structure(
            f'("APPLICATION" "PDF" ("NAME" "fallback.pdf") NIL NIL "BASE64" 10 NIL ("ATTACHMENT" ("FILENAME*" "{value}")) NIL)'
        )
        assert isinstance(part.filename, str)
        assert part.filename

    def test_parameter_names_are_case_insensitive(self) -> None:
        assert structure('("TEXT" "PLAIN" ("ChArSeT" "koi8-r") NIL NIL "8BIT" 5 1)').charset == "koi8-r"


class TestBroken:
    def test_multipart_without_boundary_or_parameters(self) -> None:
        root = structure(f'({PLAIN} "MIXED")')
        assert root.params == {}
        assert sections(layout(root).body) == ["1"]

    def test_multipart_without_a_subtype_is_mixed(self) -> None:
        root = parse_bodystructure(([raw(PLAIN)],))
        assert root.content_type == "multipart/mixed"

    def test_empty_multipart(self) -> None:
        root = parse_bodystructure(([], b"MIXED"))
        assert root.children == []
        result = layout(root)
        assert (result.body, result.attachments) == ([], [])

    def test_empty_text_part(self) -> None:
        part = structure('("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)')
        assert (part.size, part.params) == (0, {})
        assert sections(layout(part).body) == ["1"]

    @pytest.mark.parametrize(
        "broken",
        [
            (),
            (None,),
            (b"TEXT",),
            (b"TEXT", b"PLAIN", (b"CHARSET",), None, None, b"7BIT", b"not-a-number", 1),
            (b"TEXT", b"PLAIN", b"not-a-list", None, None, None, None, None),
            (b"MESSAGE", b"RFC822", None, None, None, b"7BIT", 100, None, None, 5),
            (b"MESSAGE", b"RFC822", None, None, None, b"7BIT", 100, None, (), 5),
            (b"APPLICATION", b"PDF", None, None, None, b"BASE64", 100, None, b"ATTACHMENT", None),
            (b"APPLICATION", b"PDF", None, None, None, b"BASE64", 100, None, (), None),
            ([None, (b"TEXT", b"PLAIN")], b"MIXED"),
        ],
    )
    def test_malformed_structures_never_raise(self, broken: tuple[Any, ...]) -> None:
        root = parse_bodystructure(broken)
        layout(root)
        assert all(isinstance(part.section, str) for part in root.walk())

    def test_missing_fields_default(self) -> None:
        part = parse_bodystructure((b"TEXT",))
        assert (part.content_type, part.encoding, part.size, part.charset) == ("text/plain", "7bit", 0, None)

    def test_unusable_parts_are_download_only(self) -> None:
        root = parse_bodystructure(([(), (b"TEXT", b"PLAIN")], b"MIXED"))
        assert root.children[0].content_type == "application/octet-stream"
        assert sections(layout(root).attachments) == ["1"]


class TestDeepNesting:
    def test_60_nested_multiparts_are_cut(self) -> None:
        wire = PLAIN
        for _ in range(60):
            wire = f'({wire} "MIXED")'
        root = structure(wire)
        parts = list(root.walk())
        assert len(parts) == MAX_DEPTH + 2  # the root, MAX_DEPTH levels, and the cut-off stub
        assert parts[-1].content_type == "application/octet-stream"
        assert max(part.section.count(".") for part in parts) <= MAX_DEPTH
        result = layout(root)
        assert (result.body, result.attachments) == ([], [])

    def test_60_nested_messages_are_cut(self) -> None:
        wire = PLAIN
        for _ in range(60):
            wire = f'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 {ENVELOPE} {wire} 30 NIL NIL NIL)'
        root = structure(wire)
        assert len(list(root.walk())) <= MAX_DEPTH + 2
        assert sections(layout(root).body) == ["1"]

    def test_nesting_within_the_limit_is_kept(self) -> None:
        wire = PLAIN
        for _ in range(10):
            wire = f'({wire} "MIXED")'
        result = plan(wire)
        assert sections(result.body) == [".".join(["1"] * 10)]


class TestLayout:
    def test_alternative_prefers_html(self) -> None:
        result = plan(f'({PLAIN}{HTML} "ALTERNATIVE")')
        assert sections(result.body) == ["2"]
        assert (result.has_html, result.has_plain_alternative) == (True, True)
        assert result.attachments == []

    def test_alternative_can_prefer_plain(self) -> None:
        assert sections(plan(f'({PLAIN}{HTML} "ALTERNATIVE")', prefer_html=False).body) == ["1"]

    def test_alternative_with_only_html(self) -> None:
        result = plan(f'({HTML} "ALTERNATIVE")', prefer_html=False)
        assert sections(result.body) == ["1"]
        assert (result.has_html, result.has_plain_alternative) == (True, False)

    def test_alternative_of_unknown_types_takes_the_last(self) -> None:
        result = plan(
            '(("TEXT" "ENRICHED" NIL NIL NIL "7BIT" 5 1)("TEXT" "X-UNKNOWN" NIL NIL NIL "7BIT" 5 1) "ALTERNATIVE")'
        )
        assert sections(result.attachments) == ["2"]
        assert result.body == []

    def test_related_html_with_inline_image(self) -> None:
        result = plan(f'({PLAIN}(({HTML}{LOGO} "RELATED") "ALTERNATIVE"){PDF} "MIXED")')
        assert sections(result.body) == ["1", "2.1.1"]
        assert list(result.inline_resources) == ["logo@example.org"]
        assert result.inline_resources["logo@example.org"].section == "2.1.2"
        assert sections(result.attachments) == ["3"]

    def test_related_start_parameter_picks_the_root(self) -> None:
        html_with_id = '("TEXT" "HTML" ("CHARSET" "UTF-8") "<root@x>" NIL "7BIT" 10 1 NIL NIL NIL)'
        result = plan(f'({LOGO}{html_with_id} "RELATED" ("START" "<root@x>" "TYPE" "text/html"))')
        assert sections(result.body) == ["2"]
        assert result.inline_resources["logo@example.org"].section == "1"

    def test_related_part_without_content_id_is_an_attachment(self) -> None:
        result = plan(f'({HTML}{PDF} "RELATED")')
        assert sections(result.attachments) == ["2"]

    def test_inline_images_of_the_unchosen_alternative_are_resources(self) -> None:
        result = plan(f'(({HTML}{LOGO} "RELATED"){PLAIN} "ALTERNATIVE")', prefer_html=False)
        assert sections(result.body) == ["2"]
        assert "logo@example.org" in result.inline_resources

    def test_text_attachment_is_not_shown(self) -> None:
        attached = '("TEXT" "PLAIN" ("NAME" "notes.txt") NIL NIL "7BIT" 5 1 NIL ("ATTACHMENT" ("FILENAME" "notes.txt")) NIL)'
        result = plan(f'({PLAIN}{attached} "MIXED")')
        assert (sections(result.body), sections(result.attachments)) == (["1"], ["2"])

    def test_mixed_texts_are_shown_in_order(self) -> None:
        assert sections(plan(f'({PLAIN}{PDF}{HTML} "MIXED")').body) == ["1", "3"]

    def test_embedded_message_is_shown_unless_attached(self) -> None:
        inline = f'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 {ENVELOPE} {PLAIN} 30 NIL NIL NIL)'
        attached = (
            f'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 {ENVELOPE} {PLAIN} 30 NIL ("ATTACHMENT" NIL) NIL)'
        )
        assert sections(plan(f'({PLAIN}{inline} "MIXED")').body) == ["1", "2"]
        result = plan(f'({PLAIN}{attached} "MIXED")')
        assert (sections(result.body), sections(result.attachments)) == (["1"], ["2"])

    def test_top_level_attachment_only(self) -> None:
        result = plan(PDF)
        assert (result.body, sections(result.attachments)) == ([], ["1"])

    def test_content_id_images_outside_related_are_resources_and_attachments(self) -> None:
        result = plan(f'({HTML}{LOGO} "MIXED")')
        assert "logo@example.org" in result.inline_resources
        assert sections(result.attachments) == ["2"]


PART = st.tuples(
    st.sampled_from([b"TEXT", b"IMAGE", b"APPLICATION", b"MESSAGE", b"MULTIPART", None, b""]),
    st.sampled_from([b"PLAIN", b"HTML", b"RFC822", b"PDF", None]),
    st.none() | st.lists(st.binary(max_size=8) | st.none(), max_size=5).map(tuple),
    st.none() | st.binary(max_size=10),
    st.none() | st.binary(max_size=10),
    st.none() | st.sampled_from([b"BASE64", b"7BIT", b"X-JUNK"]),
    st.integers(-5, 10**9) | st.binary(max_size=3),
)
SUBTYPE = st.sampled_from([b"MIXED", b"ALTERNATIVE", b"RELATED"])


def multipart(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Both shapes imapclient returns: children in a list (top level) or as leading tuples."""
    listed = st.tuples(st.lists(children, max_size=4), SUBTYPE)
    leading = st.tuples(st.lists(children, min_size=1, max_size=4), SUBTYPE).map(lambda t: (*t[0], t[1]))
    return listed | leading


TREE = st.recursive(PART, multipart, max_leaves=30)


@given(TREE, st.booleans())
def test_any_structure_parses_and_lays_out(tree: tuple[Any, ...], prefer_html: bool) -> None:
    root = parse_bodystructure(tree)
    result = layout(root, prefer_html=prefer_html)
    walked = {id(part) for part in root.walk()}
    assert all(id(part) in walked for part in [*result.body, *result.attachments])
    assert all(part.content_type in ("text/plain", "text/html", "message/rfc822") for part in result.body)
