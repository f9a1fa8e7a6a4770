"""Properties over generated hostile input (issue 21): the sanitiser, the address parser, the
MIME-to-display path and the complexity bound. Strategies only; no random module."""

from __future__ import annotations

import base64
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.mail.test_sanitize import VECTORS, assert_harmless, clean
from webmail.mail.compose import ComposeError, parse_recipients
from webmail.mail.drafting import reply_draft
from webmail.mail.render import build_view, parse_addresses, parse_headers
from webmail.mail.sanitize import html_as_text, too_complex
from webmail.mail.structure import layout, parse_bodystructure

HTML = st.lists(st.sampled_from(VECTORS) | st.sampled_from(["<div>", "</div>", "<p>", "<b>", "<table><tr><td>"])
                | st.text(max_size=10), max_size=16).map("".join)  # fmt: skip


@settings(deadline=None)  # a loaded machine; the bounds are what the properties check
@given(HTML, st.booleans())
def test_sanitising_twice_changes_nothing_and_stays_harmless(html: str, allow_remote: bool) -> None:
    once = clean(html, allow_remote=allow_remote).html
    assert_harmless(once, remote=allow_remote)
    assert not re.search(r"<\s*base\b", once, re.I)
    twice = clean(once, allow_remote=allow_remote).html
    assert_harmless(twice, remote=allow_remote)
    assert clean(twice, allow_remote=allow_remote).html == twice


@settings(deadline=None)  # a loaded machine; the bounds are what the properties check
@given(st.integers(min_value=1, max_value=300), st.sampled_from(["div", "td", "B", "font"]), HTML)
def test_the_nesting_bound_is_exact(depth: int, tag: str, inside: str) -> None:
    flat = inside.replace("<", "")  # text without tags of its own
    assert not too_complex(f"<{tag}>" * depth + flat + f"</{tag}>" * depth, 1_000_000, depth)
    assert too_complex(f"<{tag} x=1>" * (depth + 1) + flat, 1_000_000, depth)
    assert "<" + tag not in html_as_text(f"<{tag}>" * depth + flat)


NAME_PIECES = st.sampled_from([",", "@", "<", ">", '"', ":", ";", "\r\n", "mallory@evil.test", "Bcc: x@evil.test",
                               "Eve", " ", "é", "\\", "(", ")"])  # fmt: skip


def encoded(text: str, kind: str) -> str:
    raw = text.encode()
    if kind == "b":
        return f"=?utf-8?b?{base64.b64encode(raw).decode()}?="
    return "=?utf-8?q?" + "".join(f"={b:02X}" for b in raw) + "?="


@settings(deadline=None)  # a loaded machine; the bounds are what the properties check
@given(st.lists(NAME_PIECES, max_size=8).map("".join), st.sampled_from(["b", "q"]))
def test_an_encoded_display_name_never_adds_a_recipient(name: str, kind: str) -> None:
    header = f"From: {encoded(name, kind)} <eve@example.test>\r\nTo: me@example.test\r\n\r\n".encode()
    headers = parse_headers(header)
    assert [address.email for address in headers.from_] == ["eve@example.test"]
    draft = reply_draft(headers, "text", sender="me@example.test", reply_all=True)
    try:
        sent_to = [address.addr_spec for address in parse_recipients(draft.to)]
    except ComposeError:
        sent_to = []
    assert set(sent_to) <= {"eve@example.test"}
    assert "\n" not in draft.to
    assert "\r" not in draft.to


@settings(deadline=None)  # a loaded machine; the bounds are what the properties check
@given(st.lists(st.text(max_size=30) | st.sampled_from(["=?utf-8?q?a=2Cb?=", "<a@b>", ",", '"']), max_size=6))
def test_the_address_parser_never_raises(values: list[str]) -> None:
    for address in parse_addresses(values, limit=5):
        assert isinstance(address.name, str)
        assert isinstance(address.email, str)


PARTS = st.recursive(
    st.tuples(
        st.sampled_from([b"text", b"image", b"application"]),
        st.sampled_from([b"plain", b"html", b"png"]),
        st.just((b"charset", b"utf-8")),
        st.none(),
        st.none(),
        st.sampled_from([b"7bit", b"base64"]),
        st.integers(0, 10**12),
    ),  # fmt: skip
    lambda children: st.builds(
        lambda kids, sub: [*kids, sub],
        st.lists(children, min_size=1, max_size=4),
        st.sampled_from([b"mixed", b"alternative", b"related"]),
    ),  # fmt: skip
    max_leaves=40,
)


@settings(deadline=None, max_examples=60)
@given(PARTS, st.binary(max_size=300))
def test_any_structure_and_bytes_render(structure: object, body: bytes) -> None:
    try:
        root = parse_bodystructure(structure)  # type: ignore[arg-type]
    except Exception as exc:  # the parser takes imapclient's shapes; a failure here is a bug
        raise AssertionError(structure) from exc
    plan = layout(root)
    contents = {part.section: body for part in root.walk()}
    view = build_view(b"From: a@b\r\nDate: Fri, 31 Dec 9999 23:59:59 -1200\r\n\r\n", plan, contents,
                      cid_url=lambda _: None, allow_remote=False)  # fmt: skip
    assert view.headers.date is None
    for block in view.blocks:
        assert not re.search(r"<\s*script", block.html, re.I)
