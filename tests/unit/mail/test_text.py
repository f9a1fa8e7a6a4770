"""Plain text to HTML: flowed text (RFC 3676), quotes, links, the signature, and hostile text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.editor import to_flowed
from webmail.mail.text import MAX_LINE, Line, fixed_lines, linkify, text_to_html, unflow

LINK_ATTRS = 'target="_blank" rel="noopener noreferrer nofollow"'


class Tags(HTMLParser):
    """The elements and attributes a browser would build from the output."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_only_our_markup(html: str) -> None:
    for tag, attrs in Tags(html).tags:
        assert tag in {"div", "details", "summary", "blockquote", "a"}, tag
        if tag == "a":
            assert set(attrs) == {"href", "target", "rel"}
            assert re.match(r"^(https?://|mailto:)", attrs["href"] or ""), attrs["href"]
        elif tag == "details":
            assert set(attrs) <= {"class", "open"}
        else:
            assert set(attrs) <= {"class"}


class TestUnflow:
    def test_soft_breaks_are_joined(self) -> None:
        assert unflow("This is a \r\nflowed \r\nparagraph.\r\nNew line.") == [
            Line(0, "This is a flowed paragraph."), Line(0, "New line."),
        ]  # fmt: skip

    def test_delsp_removes_the_soft_space(self) -> None:
        assert unflow("日本語の \nテキスト", delsp=True) == [Line(0, "日本語のテキスト")]

    def test_quote_depth_per_paragraph(self) -> None:
        assert unflow("> quoted \n> more\n>> deeper\nback") == [
            Line(1, "quoted more"), Line(2, "deeper"), Line(0, "back"),
        ]  # fmt: skip

    def test_quote_depth_change_ends_a_paragraph(self) -> None:
        assert unflow("> soft \n>> other") == [Line(1, "soft "), Line(2, "other")]

    def test_space_stuffing_is_undone(self) -> None:
        assert unflow(" From here\n >not a quote") == [Line(0, "From here"), Line(0, ">not a quote")]

    def test_signature_separator_is_not_soft(self) -> None:
        assert unflow("-- \nAnna") == [Line(0, "-- "), Line(0, "Anna")]

    def test_trailing_soft_line_is_kept(self) -> None:
        assert unflow("dangling ") == [Line(0, "dangling ")]


class TestFixedLines:
    def test_quote_markers_with_and_without_spaces(self) -> None:
        assert fixed_lines("> a\n>> b\n> > c\n>no space\n   > indented\nplain") == [
            Line(1, "a"), Line(2, "b"), Line(2, "c"), Line(1, "no space"), Line(1, "indented"), Line(0, "plain"),
        ]  # fmt: skip

    def test_unquoted_lines_keep_their_indent(self) -> None:
        assert fixed_lines("    code") == [Line(0, "    code")]


class TestLinkify:
    def test_urls_become_links(self) -> None:
        assert linkify("see https://example.org/a?b=1&c=2 now") == (
            f'see <a href="https://example.org/a?b=1&amp;c=2" {LINK_ATTRS}>https://example.org/a?b=1&amp;c=2</a> now'
        )

    def test_www_gets_https(self) -> None:
        assert (
            linkify("www.example.org/path.")
            == f'<a href="https://www.example.org/path" {LINK_ATTRS}>www.example.org/path</a>.'
        )
        assert 'href="https://www.x.org/?u=https://y"' in linkify("www.x.org/?u=https://y")

    def test_addresses_become_mailto(self) -> None:
        assert linkify("write to anna@example.org, please") == (
            f'write to <a href="mailto:anna@example.org" {LINK_ATTRS}>anna@example.org</a>, please'
        )
        assert (
            linkify("mailto:anna@example.org")
            == f'<a href="mailto:anna@example.org" {LINK_ATTRS}>mailto:anna@example.org</a>'
        )

    def test_balanced_parentheses_stay_in_the_url(self) -> None:
        html = linkify("(see https://en.wikipedia.org/wiki/Mail_(disambiguation)).")
        assert 'href="https://en.wikipedia.org/wiki/Mail_(disambiguation)"' in html
        assert html.endswith("</a>).")

    @pytest.mark.parametrize(
        "text",
        [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "file:///etc/passwd",
        ],
    )
    def test_other_schemes_stay_text(self, text: str) -> None:
        html = linkify(text)
        assert "<a" not in html
        assert "<script" not in html

    def test_javascript_before_a_www_link_does_not_become_its_scheme(self) -> None:
        html = linkify("javascript://www.example.org/%0Aalert(1)")
        assert html.startswith("javascript://<a ")
        assert 'href="https://www.example.org/%0Aalert(1)"' in html

    @pytest.mark.parametrize(
        "text",
        [
            'https://example.org/"onmouseover=alert(1)',
            "https://example.org/'onmouseover=alert(1)",
            "https://example.org/a<script>alert(1)</script>",
            'anna@example.org" onmouseover="alert(1)',
            "https://example.org/&quot;onmouseover=alert(1)",
        ],
    )
    def test_quotes_and_brackets_cannot_leave_the_href(self, text: str) -> None:
        html = linkify(text)
        assert_only_our_markup(html)
        assert "<script" not in html


class TestTextToHtml:
    def test_hostile_text_is_escaped(self) -> None:
        html = text_to_html(
            '<script>alert(1)</script>\n"><img src=x onerror=alert(1)>\n<a href="javascript:alert(1)">x</a>'
        )
        for raw in ("<script", "<img", "<a href"):
            assert raw not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert_only_our_markup(html)

    def test_quotes_fold_and_nest(self) -> None:
        assert text_to_html("Hi\n> quoted\n>> deeper\nback") == (
            '<div class="plain">Hi\n'
            '<details class="quote"><summary>Show quoted text</summary><blockquote>quoted\n'
            '<details class="quote" open><summary>More quoted text</summary><blockquote>deeper\n'
            "</blockquote></details></blockquote></details>back\n</div>"
        )

    def test_signature_is_dimmed_and_closes_quotes(self) -> None:
        html = text_to_html("> quoted\n-- \nAnna <anna@example.org>")
        assert html == (
            '<div class="plain"><details class="quote"><summary>Show quoted text</summary><blockquote>quoted\n'
            '</blockquote></details><div class="signature">-- \n'
            f'Anna &lt;<a href="mailto:anna@example.org" {LINK_ATTRS}>anna@example.org</a>&gt;\n</div></div>'
        )

    def test_only_the_first_separator_starts_the_signature(self) -> None:
        assert text_to_html("a\n--\nb\n-- \nc").count('class="signature"') == 1

    def test_flowed_text_is_joined(self) -> None:
        assert text_to_html("one \ntwo", flowed=True) == '<div class="plain">one two\n</div>'
        assert text_to_html("one \ntwo") == '<div class="plain">one \ntwo\n</div>'

    def test_very_long_lines_are_cut(self) -> None:
        html = text_to_html("x" * (MAX_LINE + 50))
        assert html.count("x") == MAX_LINE
        assert "…" in html

    def test_empty_text(self) -> None:
        assert text_to_html("") == '<div class="plain"></div>'

    def test_deep_quotes_are_balanced(self) -> None:
        html = text_to_html(">" * 60 + " deep\nnot quoted")
        assert html.count("<details") == html.count("</details>") == 60
        assert html.count("<blockquote>") == html.count("</blockquote>") == 60

    def test_returns_a_plain_str(self) -> None:
        # highlight_html and the templates treat it as text; a Markup would escape what is added to it.
        assert type(text_to_html("a")) is str


TEXT = st.lists(
    st.sampled_from(["<script>", "</div>", '"', "'", "&", "&amp;", ">", "> ", ">>", "-- ", "https://", "www.",
                     "@", "example.org", "javascript:", " onerror=", "\n", "(", ")", "<a href=", "mailto:"])
    | st.text(max_size=8),
    max_size=25,
).map("".join)  # fmt: skip


@given(TEXT, st.booleans())
def test_any_text_gives_balanced_markup_of_our_own(text: str, flowed: bool) -> None:
    html = text_to_html(text, flowed=flowed)
    assert_only_our_markup(html)
    for tag in ("div", "details", "blockquote", "a"):
        assert html.count(f"<{tag}") == html.count(f"</{tag}>"), tag


@given(TEXT)
def test_linkify_keeps_the_text(text: str) -> None:
    # What the reader sees is exactly the text: markup adds links, never characters.
    shown = re.sub(r"<[^>]*>", "", linkify(text))
    unescaped = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"').replace("&#39;", "'")
    assert unescaped.replace("&amp;", "&") == text


PARAGRAPHS = st.lists(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"], blacklist_characters=" >"),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=40,
).map(" ".join)


@given(st.lists(PARAGRAPHS, min_size=1, max_size=4), st.integers(30, 90))
def test_flowed_encoding_round_trips(paragraphs: list[str], width: int) -> None:
    text = "\n".join(paragraphs)
    assert [line.text for line in unflow(to_flowed(text, width))] == paragraphs
