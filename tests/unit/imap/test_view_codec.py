"""The rendered-message cache stores a MessageView as JSON and gets the same view back."""

from __future__ import annotations

from webmail.imap.cache import view_from_json, view_to_json
from webmail.mail.render import Attachment, BodyBlock, MessageView, build_view, parse_headers
from webmail.mail.structure import layout, parse_bodystructure

HEADER = (
    b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\nTo: a@x, b@y\r\nSubject: Hi\r\n"
    b"Date: Tue, 24 Nov 2026 08:00:00 +0100\r\nMessage-ID: <1@x>\r\n\r\n"
)


def test_round_trip_keeps_every_field() -> None:
    headers = parse_headers(HEADER)
    view = MessageView(
        headers=headers,
        blocks=[
            BodyBlock("html", "<p>safe</p>"),
            BodyBlock("message", headers=headers, blocks=[BodyBlock("text", "<pre>inner</pre>")]),
        ],
        attachments=[Attachment("2", "a.pdf", "application/pdf", 1234)],
        has_html=True,
        has_plain_alternative=False,
        remote_blocked=3,
        trackers=["t.example"],
        notices=["Part of this message was damaged in transit; some text may be missing."],
    )
    assert view_from_json(view_to_json(view)) == view


def test_a_built_view_round_trips() -> None:
    plan = layout(parse_bodystructure((b"text", b"plain", (b"charset", b"utf-8"), None, None, b"7bit", 5, 1)))
    view = build_view(HEADER, plan, {"1": b"hello"}, cid_url=lambda c: None, allow_remote=False)
    assert view.blocks
    assert view_from_json(view_to_json(view)) == view
