from __future__ import annotations

from webmail.mail.render import parse_headers
from webmail.sieve.suggest import suggestions


def test_list_sender_and_subject_best_first() -> None:
    headers = parse_headers(
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\nSubject: Re: Fwd: [x] Minutes\r\n"
        b"List-Id: The list <team.example.org>\r\n\r\n"
    )
    assert [(s.by, s.field, s.op, s.value) for s in suggestions(headers)] == [
        ("list", "header:List-Id", "contains", "team.example.org"),
        ("from", "from", "is", "j@example.org"),
        ("subject", "subject", "contains", "[x] Minutes"),
    ]


def test_hostile_headers_give_one_line_values() -> None:
    headers = parse_headers(b"Subject: =?utf-8?q?a=0D=0Ab?=\r\nList-Id: <>\r\n\r\n")
    assert [(s.by, s.value) for s in suggestions(headers)] == [("subject", "a b")]
    assert suggestions(parse_headers(b"\r\n")) == []
