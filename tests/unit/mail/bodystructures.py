"""BODYSTRUCTUREs written as the server sends them, parsed by imapclient's own response parser,
so the tuples are exactly what the app receives."""

from __future__ import annotations

from typing import Any

from imapclient.response_parser import parse_fetch_response

from webmail.mail.structure import BodyPart, parse_bodystructure

PLAIN = '("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 120 4 NIL NIL NIL)'
HTML = '("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "BASE64" 400 6 NIL NIL NIL)'
LOGO = '("IMAGE" "PNG" ("NAME" "logo.png") "<logo@example.org>" NIL "BASE64" 1000 NIL ("INLINE" ("FILENAME" "logo.png")) NIL)'
PDF = '("APPLICATION" "PDF" ("NAME" "report.pdf") NIL NIL "BASE64" 4000 NIL ("ATTACHMENT" ("FILENAME" "report.pdf")) NIL)'
ENVELOPE = '("Mon, 2 Nov 2026 10:00:00 +0000" "Inner" (("Anna" NIL "anna" "example.org")) NIL NIL NIL NIL NIL NIL "<inner@example.org>")'


def raw(wire: str) -> Any:
    """The BODYSTRUCTURE value imapclient makes of ``wire``."""
    return parse_fetch_response([b"1 (BODYSTRUCTURE " + wire.encode() + b")"])[1][b"BODYSTRUCTURE"]


def structure(wire: str) -> BodyPart:
    return parse_bodystructure(raw(wire))
