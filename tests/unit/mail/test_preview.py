from __future__ import annotations

import base64

from webmail.mail.preview import PREVIEW_CHARS, clean, preview_part, preview_text
from webmail.mail.structure import BodyPart


def part(subtype: str = "plain", encoding: str = "7bit", charset: str = "utf-8") -> BodyPart:
    return BodyPart("1", "text", subtype, {"charset": charset}, encoding=encoding)


def test_quotes_signature_and_spacing_go() -> None:
    assert clean("Hi Ann,\n\n> old words\n  See you  at noon.\n-- \nBob") == "Hi Ann, See you at noon."


def test_long_text_is_cut_at_a_word() -> None:
    text = clean("word " * 100)
    assert len(text) <= PREVIEW_CHARS + 1
    assert text.endswith("word…")


def test_base64_cut_mid_quantum_and_latin1() -> None:
    raw = "Grüße aus Köln".encode("latin-1")
    encoded = base64.b64encode(raw)[:-1]  # the fetch stopped inside a quantum
    assert preview_text(encoded, part(encoding="BASE64", charset="iso-8859-1")).startswith("Grüße aus K")


def test_html_loses_its_markup_and_styles() -> None:
    html = (
        b"<html><head><style>p{color:red}</style></head><body><p>Top&nbsp;stories</p><!-- x --></body></html>"
    )
    assert preview_text(html, part("html")) == "Top stories"


def test_the_plain_part_is_preferred() -> None:
    plain, rich = part(), BodyPart("2", "text", "html")
    plain.section = "1"
    root = BodyPart("", "multipart", "alternative", children=[plain, rich])
    assert preview_part(root) is plain
