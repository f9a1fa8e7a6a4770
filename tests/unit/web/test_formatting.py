from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from webmail.web.formatting import highlight


def test_words_are_marked_case_insensitively() -> None:
    assert highlight("Invoice for INVOICE", ["invoice"]) == "<mark>Invoice</mark> for <mark>INVOICE</mark>"


def test_longer_words_win() -> None:
    assert (
        highlight("report reporting", ["report", "reporting"]) == "<mark>report</mark> <mark>reporting</mark>"
    )


def test_hostile_text_is_escaped() -> None:
    result = highlight('<img src=x onerror=alert(1)> "a" & it\'s', ["a"])
    assert isinstance(result, Markup)
    assert result == "&lt;img src=x onerror=<mark>a</mark>lert(1)&gt; &#34;<mark>a</mark>&#34; &amp; it&#39;s"


def test_hostile_words_are_escaped() -> None:
    assert highlight("x <b> y", ["<b>"]) == "x <mark>&lt;b&gt;</mark> y"
    assert highlight("a&b", ["a&b"]) == "<mark>a&amp;b</mark>"


def test_words_never_match_inside_what_escaping_adds() -> None:
    assert highlight("a & b", ["amp"]) == "a &amp; b"
    assert highlight("it's", ["39"]) == "it&#39;s"


def test_no_words() -> None:
    assert highlight("<b>", []) == "&lt;b&gt;"
    assert highlight("<b>", ["  "]) == "&lt;b&gt;"


@settings(deadline=None)  # a shared, slow machine
@given(st.text(max_size=40), st.lists(st.text(max_size=5), max_size=4))
def test_only_marks_are_added(text: str, words: list[str]) -> None:
    assert str(highlight(text, words)).replace("<mark>", "").replace("</mark>", "") == escape(text)
