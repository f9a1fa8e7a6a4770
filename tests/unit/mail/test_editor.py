"""What the compose editor produces: format=flowed text, cleaned editor HTML and its plain twin."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.editor import (
    EDITOR_ATTRIBUTES,
    EDITOR_TAGS,
    WIDTH,
    clean_editor_html,
    html_document,
    html_to_text,
    text_to_editor_html,
    to_flowed,
)
from webmail.mail.text import unflow


class Elements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


class TestToFlowed:
    def test_short_lines_are_unchanged(self) -> None:
        assert to_flowed("Hello\n\nBye") == "Hello\n\nBye"

    def test_long_lines_break_softly_at_spaces(self) -> None:
        flowed = to_flowed("word " * 30)
        lines = flowed.split("\n")
        assert len(lines) == 2
        assert lines[0].endswith(" ")
        assert not lines[1].endswith(" ")
        assert all(len(line) <= WIDTH for line in lines)

    def test_quotes_keep_their_marker_on_every_line(self) -> None:
        lines = to_flowed(">> " + "quoted " * 30, width=40).split("\n")
        assert all(line.startswith(">> ") for line in lines)
        assert [line.text for line in unflow("\n".join(lines))] == [("quoted " * 30).rstrip()]

    def test_signature_separator_keeps_its_space(self) -> None:
        assert to_flowed("Bye\n-- \nAnna") == "Bye\n-- \nAnna"

    def test_trailing_spaces_are_removed_so_no_line_is_soft_by_accident(self) -> None:
        assert to_flowed("end   \nnext") == "end\nnext"

    @pytest.mark.parametrize(("line", "stuffed"), [("From here", " From here"), (" indented", "  indented")])
    def test_space_stuffing(self, line: str, stuffed: str) -> None:
        assert to_flowed(line) == stuffed
        assert unflow(stuffed)[0].text == line

    def test_a_word_longer_than_the_line_is_not_broken(self) -> None:
        assert to_flowed("x" * 200) == "x" * 200

    def test_crlf_input(self) -> None:
        assert to_flowed("a\r\nb") == "a\nb"


class TestCleanEditorHtml:
    def test_what_the_editor_makes_survives(self) -> None:
        html = '<p>Hi <b>bold</b> <i>it</i> <u>u</u> <s>s</s></p><ul><li>one</li></ul><blockquote>q</blockquote><a href="https://x.example" title="t">x</a>'
        assert clean_editor_html(html) == html.replace('title="t"', 'title="t" rel="noopener noreferrer"')

    @pytest.mark.parametrize(
        ("html", "cleaned"),
        [
            ("<script>alert(1)</script>text", "text"),
            ('<p onclick="alert(1)" style="color:red" class="x" id="y">p</p>', "<p>p</p>"),
            ('<a href="javascript:alert(1)">j</a>', '<a rel="noopener noreferrer">j</a>'),
            ('<a href="data:text/html,x">d</a>', '<a rel="noopener noreferrer">d</a>'),
            ('<img src="https://t.example/p.gif">', ""),
            ('<iframe src="https://evil.example"></iframe>', ""),
            ('<form action="x"><input name="p"></form>', ""),
            ('<div hx-post="/send" hx-trigger="load">d</div>', "<div>d</div>"),
            ("<style>p{color:red}</style>", ""),
            ('<span style="background:url(https://t.example/x)">s</span>', "<span>s</span>"),
        ],
    )
    def test_anything_else_is_dropped(self, html: str, cleaned: str) -> None:
        assert clean_editor_html(html) == cleaned

    def test_html_document_wraps_the_fragment(self) -> None:
        document = html_document("<p>x</p>")
        assert document.startswith('<!doctype html>\n<html><head><meta charset="utf-8"></head>')
        assert '<body style="font-family: sans-serif"><p>x</p></body></html>\n' in document


HOSTILE = st.lists(
    st.sampled_from(["<script>", "</script>", "<img src=x onerror=alert(1)>", '<a href="javascript:x">', "<b>",
                     "</b>", "<svg onload=x>", '<p style="x:url(y)">', "<iframe>", '"', "<", ">", "&", "text",
                     '<div hx-get="/x">', "<!--", "-->", "<blockquote>", "<li>"])
    | st.text(max_size=6),
    max_size=15,
).map("".join)  # fmt: skip


@given(HOSTILE)
def test_cleaned_html_holds_only_editor_markup(html: str) -> None:
    cleaned = clean_editor_html(html)
    for tag, attrs in Elements(cleaned).found:
        assert tag in EDITOR_TAGS
        allowed = EDITOR_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        assert set(attrs) <= allowed
        if "href" in attrs:
            assert (attrs["href"] or "").startswith(("http://", "https://", "mailto:"))
    html_to_text(cleaned)


class TestTextToEditorHtml:
    def test_lines_become_divs_and_quotes_blockquotes(self) -> None:
        assert text_to_editor_html("Hi\n> quoted\n>> deeper\n\nend") == (
            "<div>Hi</div><blockquote><div>quoted</div></blockquote>"
            "<blockquote><blockquote><div>deeper</div></blockquote></blockquote><div><br></div><div>end</div>"
        )

    def test_text_is_escaped(self) -> None:
        assert text_to_editor_html("<script>alert(1)</script> \"x\" & 'y'") == (
            "<div>&lt;script&gt;alert(1)&lt;/script&gt; &#34;x&#34; &amp; &#39;y&#39;</div>"
        )

    def test_quoted_hostile_text_is_escaped(self) -> None:
        assert text_to_editor_html("> <img src=x onerror=alert(1)>") == (
            "<blockquote><div>&lt;img src=x onerror=alert(1)&gt;</div></blockquote>"
        )


@given(st.text(max_size=80))
def test_editor_html_from_text_is_already_clean(text: str) -> None:
    html = text_to_editor_html(text)
    for tag, attrs in Elements(html).found:
        assert tag in {"div", "br", "blockquote"}
        assert attrs == {}


class TestHtmlToText:
    def test_paragraphs_lists_quotes_and_links(self) -> None:
        html = (
            "<p>Hello <b>world</b></p><ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol>"
            '<blockquote><p>quoted</p><blockquote>deeper</blockquote></blockquote><a href="https://x.example">link</a>'
            '<br>line<br><br>end &amp; &lt;tag&gt; <a href="mailto:anna@example.org">Anna</a>'
        )
        assert html_to_text(html) == (
            "Hello world\n- one\n- two\n1. a\n2. b\n> quoted\n>> deeper\nlink <https://x.example>\nline\n\n"
            "end & <tag> Anna <anna@example.org>\n"
        )

    def test_links_to_other_schemes_lose_their_target(self) -> None:
        assert html_to_text('<a href="javascript:alert(1)">js</a>') == "js\n"

    def test_whitespace_is_collapsed(self) -> None:
        assert html_to_text("<p>  a \n\t b  </p>") == "a b\n"

    @pytest.mark.parametrize(
        "html", ["", "<div><br></div>", "</blockquote></ul></ol>", "<p>unclosed <b>bold", "<<>>"]
    )
    def test_broken_or_empty_markup(self, html: str) -> None:
        assert html_to_text(html).endswith("\n")

    def test_round_trip_of_editor_html_from_text(self) -> None:
        text = "Hi\n> quoted\n>> deeper\nend"
        assert html_to_text(text_to_editor_html(text)) == text + "\n"
