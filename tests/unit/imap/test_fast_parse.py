"""raw.parse_atoms and raw.parse_fetch read every response exactly as imapclient's parser does:
the same values, and the same error where imapclient refuses one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response, parse_response

from webmail.imap import raw
from webmail.imap.raw import parse_atoms, parse_fetch

# What Dovecot answers for one message as the reader asks it, and for list rows.
ENVELOPE = (
    b'("Mon, 2 Mar 2026 10:05:00 +0000" "=?utf-8?q?Caf=C3=A9?= \\"quoted\\" \\\\ x" '
    b'(("Sender 5" NIL "sender5" "example.org")) (("Sender 5" NIL "sender5" "example.org")) '
    b'(("Sender 5" NIL "sender5" "example.org")) ((NIL NIL "bench" "example.test")) NIL NIL '
    b'"<parent@example.org>" "<m5@example.org>")'
)
STRUCTURE = (
    b'(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 27 1 NIL NIL NIL NIL)'
    b'("text" "html" ("charset" "utf-8") NIL NIL "7bit" 120 1 NIL NIL NIL NIL) "alternative" '
    b'("boundary" "b5") NIL NIL NIL)'
)
HEADER = b'From: Sender 5 <sender5@example.org>\r\nSubject: (odd) "one" {3}\r\n\r\n'
ANSWERS: list[list[Any]] = [
    [
        (
            b'1 (UID 5 FLAGS (\\Seen $label1) INTERNALDATE "02-Mar-2026 10:05:00 +0000" RFC822.SIZE 812 '
            b"ENVELOPE " + ENVELOPE + b" BODYSTRUCTURE " + STRUCTURE + b" PREVIEW {11}",
            b"Hello, this",
        ),
        (b" BODY[HEADER] {%d}" % len(HEADER), HEADER),
        b")",
    ],  # fmt: skip
    [
        (b"1 (UID 5 FLAGS () PREVIEW {11}", b"Hello, this"),
        (b" BODY[HEADER] {%d}" % len(HEADER), HEADER),
        b")",
    ],
    [(b"7 (UID 12 BODY[1] {5}", b"hi\r\n!"), (b" BODY[2]<0> {0}", b""), b" BODY[1.HEADER] NIL)"],
    [b"3 (UID 9 MODSEQ (12345) FLAGS ())", b"4 (FLAGS (\\Deleted))", b"5 (FLAGS (\\Seen) UID 11)"],
    [b'2 (UID 0 X-GM-LABELS ("\\\\Inbox" "a b") BODY ("text" "plain" NIL NIL NIL "8bit" 0 0))'],
    [b"1 (UID 01 FLAGS ())"],  # a leading zero: imapclient reads the UID as 1 all the same
    [None],
]
BROKEN: list[list[Any]] = [
    [b"1 (UID 5 FLAGS (\\Seen)"],  # unclosed parenthesis
    [b'1 (UID 5 X "unclosed)'],
    [b"1 (UID 5 BODY[HEADER {3})"],
    [b'1 (UID 5 X abc"quoted")'],  # a quote right after a word
    [(b"1 (UID 5 BODY[1] {4}", b"abc"), b")"],  # the literal is shorter than announced
    [b"1 (UID 5 BODY[1] {4})"],  # no literal at all
    [b"1 (UID five)"],
    [b"1 (UID 5 FLAGS)"],  # an odd number of items
    [b"1"],
]


def outcome(parse: Any, data: list[Any], *args: Any) -> Any:
    """("ok", the answer as a plain dict or tuple) or ("error", its type, its words)."""
    try:
        answer = parse(data, *args)
    except Exception as exc:
        return ("error", type(exc), str(exc))
    return ("ok", dict(answer) if isinstance(answer, dict) else answer)


@pytest.mark.parametrize("data", ANSWERS + BROKEN)
def test_answers_as_imapclient_reads_them(data: list[Any]) -> None:
    assert outcome(parse_atoms, data) == outcome(parse_response, data)
    for times in (False, True):
        for uid_key in (False, True):
            assert outcome(parse_fetch, data, times, uid_key) == outcome(
                parse_fetch_response, data, times, uid_key
            )


@pytest.mark.parametrize("data", ANSWERS[:-2])
def test_usual_answers_take_the_fast_path(data: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    expected = parse_fetch_response(data, False, True)
    monkeypatch.setattr(raw, "parse_fetch_response", None)  # no falling back
    monkeypatch.setattr(raw, "parse_response", None)
    assert parse_fetch(data, False, True) == dict(expected)


def test_the_reader_answer_in_full() -> None:
    row = parse_fetch(ANSWERS[0], False, True)[5]
    assert row[b"FLAGS"] == (b"\\Seen", b"$label1")
    assert row[b"INTERNALDATE"] == parse_fetch_response(ANSWERS[0], False, True)[5][b"INTERNALDATE"]
    assert isinstance(row[b"INTERNALDATE"], datetime)
    assert row[b"ENVELOPE"].subject == b'=?utf-8?q?Caf=C3=A9?= "quoted" \\ x'
    assert row[b"BODYSTRUCTURE"].is_multipart
    assert row[b"PREVIEW"] == b"Hello, this"
    assert row[b"BODY[HEADER]"] == HEADER


# Lines made of the bytes that matter to the lexer: words, brackets, quotes and escapes,
# parentheses, NIL, numbers, literal markers, whitespace and control characters.
PIECES = st.sampled_from(
    [
        b"(",
        b")",
        b" ",
        b"  ",
        b"\t",
        b"\r\n",
        b"NIL",
        b"nil",
        b"0",
        b"007",
        b"42",
        b"UID",
        b"FLAGS",
        b"\\Seen",
        b'"',
        b'"a b"',
        b'"\\""',
        b'"\\\\"',
        b'"\\x"',
        b"\\",
        b"[",
        b"]",
        b"BODY[1]",
        b"BODY[HEADER.FIELDS (A B)]",
        b"<0>",
        b"%",
        b"*",
        b"{",
        b"}",
        b"{3}",
        b"\x00",
        b"\x0b",
        b"\xe9",
        b"abc",
    ]  # fmt: skip
)
LINES = st.lists(PIECES, max_size=24).map(b"".join)
CHUNK = st.one_of(
    LINES,
    st.tuples(LINES.map(lambda line: line + b" {3}"), st.sampled_from([b"abc", b"ab", b"a\r\n)"])),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(CHUNK, min_size=1, max_size=4))
def test_any_response_as_imapclient_reads_it(data: list[Any]) -> None:
    assert outcome(parse_atoms, data) == outcome(parse_response, data)


FETCH_LINE = st.lists(
    st.sampled_from(
        [
            b"UID 5",
            b"UID 6",
            b"FLAGS (\\Seen)",
            b"FLAGS ()",
            b"RFC822.SIZE 10",
            b"X NIL",
            b'INTERNALDATE "02-Mar-2026 10:05:00 +0000"',
            b'INTERNALDATE "bad"',
            b"ENVELOPE " + ENVELOPE,
            b"BODYSTRUCTURE " + STRUCTURE,
            b"(",
            b")",
            b"7",
        ]
    ),  # fmt: skip
    max_size=6,
).map(lambda items: b"1 (" + b" ".join(items) + b")")


@settings(max_examples=800, deadline=None)
@given(st.lists(FETCH_LINE, min_size=1, max_size=3), st.booleans())
def test_any_fetch_answer_as_imapclient_reads_it(lines: list[bytes], uid_key: bool) -> None:
    mine, theirs = (
        outcome(parse_fetch, lines, False, uid_key),
        outcome(parse_fetch_response, lines, False, uid_key),
    )
    assert mine[0] == theirs[0]
    assert mine[1:] == (theirs[1:] if mine[0] == "error" else (dict(theirs[1]),))
