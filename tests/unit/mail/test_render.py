"""From fetched bytes to the message view: headers, shown blocks, attachments, notices, highlighting."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.mail.bodystructures import ENVELOPE, HTML, LOGO, PDF, PLAIN, structure
from webmail.mail.render import (
    MAX_HEADER_LENGTH,
    Attachment,
    BodyBlock,
    HeaderAddress,
    MessageView,
    attachment_name,
    build_view,
    decode_part,
    estimated_size,
    highlight_html,
    highlight_view,
    parse_headers,
)
from webmail.mail.structure import BodyPart, layout

CID_URLS = {"logo@example.org": "/mail/INBOX/7/part/2.1.2"}


def view(wire: str, contents: dict[str, bytes], **options: object) -> MessageView:
    prefer_html = bool(options.pop("prefer_html", True))
    plan = layout(structure(wire), prefer_html=prefer_html)
    header = options.pop("header", b"Subject: test\r\n\r\n")
    assert isinstance(header, bytes)
    return build_view(
        header,
        plan,
        contents,
        cid_url=CID_URLS.get,
        allow_remote=bool(options.pop("allow_remote", False)),
        prefer_html=prefer_html,
        **options,  # type: ignore[arg-type]
    )


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


class TestParseHeaders:
    def test_the_main_headers(self) -> None:
        headers = parse_headers(
            b"From: =?utf-8?q?Anna_M=C3=BCller?= <anna@example.org>\r\n"
            b'To: a@example.org, "Berg, Bo" <bo@example.org>\r\nTo: c@example.org\r\n'
            b"Cc: Team: d@example.org, e@example.org;\r\nReply-To: <r@example.org>\r\n"
            b"Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\nDate: Thu, 26 Nov 2026 10:30:00 +0100\r\n"
            b"Message-ID: <m1@example.org>\r\n\r\nbody ignored"
        )
        assert headers.from_ == [HeaderAddress("Anna Müller", "anna@example.org")]
        assert headers.to == [
            HeaderAddress("", "a@example.org"), HeaderAddress("Berg, Bo", "bo@example.org"), HeaderAddress("", "c@example.org"),
        ]  # fmt: skip
        assert headers.cc == [HeaderAddress("", "d@example.org"), HeaderAddress("", "e@example.org")]
        assert headers.reply_to == [HeaderAddress("", "r@example.org")]
        assert headers.subject == "Grüße"
        assert headers.date == datetime(2026, 11, 26, 10, 30, tzinfo=timezone(timedelta(hours=1)))
        assert headers.message_id == "<m1@example.org>"
        assert [name for name, _ in headers.all] == [
            "From",
            "To",
            "To",
            "Cc",
            "Reply-To",
            "Subject",
            "Date",
            "Message-ID",
        ]

    def test_address_str(self) -> None:
        assert str(HeaderAddress("Anna", "anna@example.org")) == "Anna <anna@example.org>"
        assert str(HeaderAddress("", "anna@example.org")) == "anna@example.org"

    @pytest.mark.parametrize(
        "raw",
        [
            b"",
            b"\r\n",
            b"no colon at all\r\n\r\n",
            b"\x00\xff\xfe",
            b":\r\n",
            b"From:\r\n\r\n",
            b"\r\n\r\nFrom: late@x.org",
        ],
    )
    def test_garbage_gives_empty_headers(self, raw: bytes) -> None:
        headers = parse_headers(raw)
        assert (headers.subject, headers.from_, headers.date, headers.message_id) == ("", [], None, None)

    def test_undisclosed_recipients_group_is_empty(self) -> None:
        assert parse_headers(b"To: undisclosed-recipients:;\r\n\r\n").to == []

    def test_8bit_headers(self) -> None:
        headers = parse_headers("Subject: Grüße aus Köln\r\nFrom: Jürgen <j@example.org>\r\n\r\n".encode())
        assert headers.subject == "Grüße aus Köln"
        assert headers.from_ == [HeaderAddress("Jürgen", "j@example.org")]
        assert parse_headers(b"Subject: caf\xe9\r\n\r\n").subject == "café"

    def test_encoded_line_breaks_stay_in_one_line(self) -> None:
        headers = parse_headers(
            b"Subject: =?utf-8?q?Hi=0D=0ABcc:_victim@example.org?=\r\nMessage-ID: =?utf-8?q?<a=0D=0A>?=\r\n\r\n"
        )
        assert headers.subject == "Hi Bcc: victim@example.org"
        assert headers.message_id == "<a >"

    @pytest.mark.parametrize(
        "date",
        [
            b"Fri, 31 Dec 9999 23:59:59 -1200",
            b"Mon, 01 Jan 99999999999999999999 00:00:00 +0000",
            b"yesterday",
            b"Mon, 01 Jan 2026 00:00:00 -0000",
        ],
    )
    def test_unusable_dates_are_none(self, date: bytes) -> None:
        assert parse_headers(b"Date: " + date + b"\r\n\r\n").date is None

    def test_long_values_are_cut(self) -> None:
        headers = parse_headers(b"Subject: " + b"x" * (MAX_HEADER_LENGTH * 2) + b"\r\n\r\n")
        assert len(headers.subject) == MAX_HEADER_LENGTH

    def test_huge_header_blocks_are_cut_at_a_megabyte(self) -> None:
        raw = (
            b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 990) for i in range(1100)) + b"Subject: late\r\n\r\n"
        )
        headers = parse_headers(raw)
        assert headers.subject == ""
        assert len(headers.all) < 1100


@given(st.binary(max_size=400))
def test_parse_headers_never_raises(raw: bytes) -> None:
    headers = parse_headers(raw)
    assert all("\n" not in value and "\r" not in value for _, value in headers.all)


class TestAttachments:
    @pytest.mark.parametrize(
        ("filename", "expected"),
        [
            ("report.pdf", "report.pdf"),
            # Only the base name (issue 22 finding 11): a path would reach Content-Disposition and the zip.
            ("../../etc/passwd", "passwd"),
            ("C:\\Windows\\evil.exe", "evil.exe"),
            ("/etc/cron.d/job", "job"),
            ("..", "part-2"),
            ("a\x00b\r\nc\x7f.txt", "a_b__c_.txt"),
            ("  spaced.txt  ", "spaced.txt"),
            ("x" * 300, "x" * 200),
        ],
    )
    def test_names_are_made_safe(self, filename: str, expected: str) -> None:
        part = BodyPart("2", "application", "octet-stream", filename=filename)
        assert attachment_name(part) == expected

    @pytest.mark.parametrize(
        ("maintype", "subtype", "expected"),
        [("application", "pdf", "part-3.pdf"), ("message", "rfc822", "part-3.eml"), ("text", "calendar", "part-3.ics"),
         ("application", "x-unknown", "part-3")],
    )  # fmt: skip
    def test_nameless_parts_get_a_name(self, maintype: str, subtype: str, expected: str) -> None:
        assert attachment_name(BodyPart("3", maintype, subtype, filename=None)) == expected
        assert attachment_name(BodyPart("3", maintype, subtype, filename="  ")) == expected

    def test_estimated_size(self) -> None:
        assert estimated_size(BodyPart("1", "image", "png", encoding="base64", size=4000)) == 3000
        assert estimated_size(BodyPart("1", "text", "plain", encoding="quoted-printable", size=4000)) == 4000

    @pytest.mark.parametrize(
        ("content_type", "icon", "previewable", "image"),
        [
            ("application/pdf", "pdf", True, False),
            ("image/png", "image", True, True),
            ("image/svg+xml", "image", False, False),  # scripts inside: download only
            ("text/html", "text", False, False),
            ("application/zip", "archive", False, False),
            ("application/x-gzip", "archive", False, False),
            ("application/octet-stream", "file", False, False),
            ("video/mp4", "video", False, False),
        ],
    )
    def test_kinds(self, content_type: str, icon: str, previewable: bool, image: bool) -> None:
        attachment = Attachment("2", "f", content_type, 10)
        assert (attachment.icon, attachment.previewable, attachment.is_image) == (icon, previewable, image)


class TestDecodePart:
    def test_quoted_printable_utf8(self) -> None:
        part = BodyPart("1", "text", "plain", {"charset": "utf-8"}, encoding="quoted-printable")
        assert decode_part(part, b"Gr=C3=BC=C3=9Fe=\r\n aus") == ("Grüße aus", [])

    def test_damaged_base64_and_unknown_charset_say_so(self) -> None:
        part = BodyPart("1", "text", "plain", {"charset": "x-klingon"}, encoding="base64")
        text, notices = decode_part(part, b"SGVsbG8gd29ybGQ=\r\n!!garbage!!")
        assert text == "Hello world"
        assert notices == [
            "Part of this message was damaged in transit; some text may be missing.",
            "Unknown character set “x-klingon”; shown as utf-8.",
        ]


class TestBuildView:
    def test_plain_text_message(self) -> None:
        result = view(PLAIN, {"1": b"Hello =C3=A9\r\n> quoted <b>\r\n"})
        assert [block.kind for block in result.blocks] == ["text"]
        assert result.blocks[0].html == (
            '<div class="plain">Hello é\n<details class="quote"><summary>Show quoted text</summary>'
            "<blockquote>quoted &lt;b&gt;\n</blockquote></details></div>"
        )
        assert (result.has_html, result.attachments, result.notices) == (False, [], [])
        assert result.headers.subject == "test"

    def test_flowed_text(self) -> None:
        flowed = '("TEXT" "PLAIN" ("CHARSET" "UTF-8" "FORMAT" "flowed" "DELSP" "yes") NIL NIL "7BIT" 20 2 NIL NIL NIL)'
        assert (
            view(flowed, {"1": b"joined \r\ntext"}).blocks[0].html == '<div class="plain">joinedtext\n</div>'
        )

    def test_html_with_inline_image_remote_image_and_attachment(self) -> None:
        html = b'<p>Hi <img src="cid:logo@example.org"><img src="https://t.example/o.gif" width=1 height=1></p><script>x</script>'
        result = view(
            f'({PLAIN}(({HTML}{LOGO} "RELATED") "ALTERNATIVE"){PDF} "MIXED")',
            {"1": b"first", "2.1.1": b64(html)},
        )
        assert [block.kind for block in result.blocks] == ["text", "html"]
        assert (
            result.blocks[1].html
            == '<p>Hi <img src="/mail/INBOX/7/part/2.1.2"><img height="1" width="1"></p>'
        )
        assert (result.remote_blocked, result.trackers) == (1, ["t.example"])
        assert [a.filename for a in result.attachments] == ["report.pdf"]
        assert result.has_html

    def test_remote_images_shown_when_allowed(self) -> None:
        result = view(HTML, {"1": b64(b'<img src="https://cdn.example/a.png">')}, allow_remote=True)
        assert result.blocks[0].html == '<img src="https://cdn.example/a.png">'
        assert result.remote_blocked == 0

    def test_inline_image_not_referenced_stays_an_attachment(self) -> None:
        result = view(f'({HTML}{LOGO} "MIXED")', {"1": b64(b"<p>no image here</p>")})
        assert [a.section for a in result.attachments] == ["2"]
        used = view(f'({HTML}{LOGO} "MIXED")', {"1": b64(b'<img src="cid:logo@example.org">')})
        assert used.attachments == []

    def test_prefer_plain(self) -> None:
        result = view(
            f'({PLAIN}{HTML} "ALTERNATIVE")', {"1": b"plain", "2": b64(b"<p>rich</p>")}, prefer_html=False
        )
        assert [block.kind for block in result.blocks] == ["text"]
        assert result.has_plain_alternative

    def test_missing_content_is_skipped(self) -> None:
        assert view(f'({PLAIN}{HTML} "MIXED")', {"2": b64(b"<p>only</p>")}).blocks == [
            BodyBlock("html", "<p>only</p>")
        ]

    def test_embedded_message(self) -> None:
        wire = f'({PLAIN}("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 {ENVELOPE} ({PLAIN}{HTML} "ALTERNATIVE") 30 NIL NIL NIL) "MIXED")'
        result = view(
            wire, {"1": b"See below.", "2.HEADER": b"Subject: Inner <b>\r\n\r\n", "2.2": b64(b"<p>inner</p>")}
        )
        outer, message = result.blocks
        assert outer.kind == "text"
        assert message.kind == "message"
        assert message.headers is not None
        assert message.headers.subject == "Inner <b>"
        assert message.blocks == [BodyBlock("html", "<p>inner</p>")]

    def test_embedded_message_without_its_header_is_skipped(self) -> None:
        wire = (
            f'({PLAIN}("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 {ENVELOPE} {PLAIN} 30 NIL NIL NIL) "MIXED")'
        )
        assert len(view(wire, {"1": b"a", "2.1": b"b"}).blocks) == 1

    def test_notices_are_collected_once(self) -> None:
        broken = '("TEXT" "PLAIN" ("CHARSET" "x-klingon") NIL NIL "BASE64" 20 1 NIL NIL NIL)'
        result = view(
            f'({broken}{broken} "MIXED")', {"1": b"aG!k=", "2": b"aG!k="}, truncated=frozenset({"2"})
        )
        assert result.notices == [
            "Part of this message was damaged in transit; some text may be missing.",
            "Unknown character set “x-klingon”; shown as utf-8.",
            "This message is very long; only its beginning is shown. Download it to read all.",
        ]

    def test_hostile_html_and_text_parts(self) -> None:
        html = b'<a href="javascript:alert(1)" onclick="x">a</a><svg onload=alert(1)><form><input></form>'
        result = view(f'({PLAIN}{HTML} "MIXED")', {"1": b"<script>alert(1)</script>", "2": b64(html)})
        text, rich = result.blocks
        assert "<script" not in text.html
        assert "&lt;script&gt;" in text.html
        assert rich.html == '<a target="_blank" rel="noopener noreferrer nofollow">a</a>'

    def test_empty_message(self) -> None:
        result = view('("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)', {"1": b""})
        assert result.blocks == [BodyBlock("text", '<div class="plain"></div>')]


class TestHighlight:
    def test_words_in_text_only(self) -> None:
        html = '<p title="ab">ab &amp; <a href="https://x.example/ab">AB</a></p>'
        assert highlight_html(html, ["ab"]) == (
            '<p title="ab"><mark>ab</mark> &amp; <a href="https://x.example/ab"><mark>AB</mark></a></p>'
        )

    def test_never_inside_entities(self) -> None:
        assert highlight_html("a &amp; b &#39; c", ["amp", "39", "a"]) == "<mark>a</mark> &amp; b &#39; c"

    def test_angle_brackets_inside_attribute_values(self) -> None:
        # nh3 leaves ">" unescaped in attribute values; the tag must still be skipped whole.
        html = '<p title="a>b&quot;">x"b</p>'
        assert highlight_html(html, ['"', "b"]) == '<p title="a>b&quot;">x<mark>"</mark><mark>b</mark></p>'

    def test_hostile_words_are_escaped(self) -> None:
        assert highlight_html("1 &lt; 2", ["<"]) == "1 &lt; 2"
        assert highlight_html("<p>x</p>", ["<script>"]) == "<p>x</p>"

    def test_no_words(self) -> None:
        assert highlight_html("<p>x</p>", ["", "  "]) == "<p>x</p>"

    def test_view_and_nested_messages(self) -> None:
        inner = BodyBlock("text", "<div>needle</div>")
        message_view = MessageView(
            parse_headers(b""), [BodyBlock("html", "<p>a needle</p>"), BodyBlock("message", blocks=[inner])],
            [], True, False, 0, [], [],
        )  # fmt: skip
        highlighted = highlight_view(message_view, ["needle"])
        assert highlighted.blocks[0].html == "<p>a <mark>needle</mark></p>"
        assert highlighted.blocks[1].blocks[0].html == "<div><mark>needle</mark></div>"
        # A copy: the view (perhaps a cached one) is as it was.
        assert message_view.blocks[0].html == "<p>a needle</p>"
        assert inner.html == "<div>needle</div>"


SAFE_HTML = st.lists(
    st.sampled_from(['<p title="a>b">', "</p>", "&amp;", "&lt;", "&#39;", '<a href="https://x/?q=a>b">', "</a>",
                     "needle", "Needle", '"', "'", ">", "x", " "]),
    max_size=20,
).map("".join)  # fmt: skip


@given(SAFE_HTML, st.lists(st.sampled_from(["needle", '"', ">", "&", "a", "<mark>", "'", "b"]), max_size=3))
def test_highlighting_only_adds_marks_outside_tags(html: str, words: list[str]) -> None:
    marked = highlight_html(html, words)
    assert marked.replace("<mark>", "").replace("</mark>", "") == html
    tags = re.findall(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""", html)
    assert all(tag in marked for tag in tags)
