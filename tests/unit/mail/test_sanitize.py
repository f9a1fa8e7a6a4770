"""The HTML mail sanitiser against the classic XSS vectors, tracking tricks and remote content."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.sanitize import SanitizedHTML, sanitize_html

INLINE = {"logo@example.org": "/mail/INBOX/7/part/2"}
LINK_EXTRAS = ' target="_blank" rel="noopener noreferrer nofollow"'


def clean(html: str, *, allow_remote: bool = False) -> SanitizedHTML:
    return sanitize_html(html, cid_url=INLINE.get, allow_remote=allow_remote)


class Elements(HTMLParser):
    """Every start tag of the output with its attributes, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


FORBIDDEN_TAGS = {"script", "style", "svg", "math", "iframe", "frame", "object", "embed", "form", "input",
                  "button", "base", "meta", "link", "title", "body", "html", "head", "video", "audio",
                  "source", "noscript", "template", "textarea", "select"}  # fmt: skip
SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):")


def assert_harmless(html: str, *, remote: bool = False) -> None:
    """What a browser would do with the output: no script, handler, frame, form or remote fetch."""
    assert not re.search(r"<\s*/?\s*script", html, re.I)
    for tag, attrs in Elements(html).found:
        assert tag not in FORBIDDEN_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith(("on", "hx-", "data-hx", "sse-")), (tag, name)
            assert name not in {"srcset", "background", "action", "formaction", "poster", "xlink:href"}
            if name == "href":
                scheme = SCHEME.match(value)
                assert scheme is None or scheme.group(1).lower() in {"http", "https", "mailto", "cid"}, value
            if name == "src":
                assert value in INLINE.values() or (remote and value.startswith(("http://", "https://"))), (
                    value
                )
            if name == "style":
                assert not re.search(
                    r"url\s*\(|expression|image-set|javascript:|@import|behavior|binding", value, re.I
                )


class TestScripts:
    def test_script_is_removed_with_its_content(self) -> None:
        assert (
            clean("<p>hi</p><script>alert(1)</script><SCRIPT src=//x.example/a.js></SCRIPT>").html
            == "<p>hi</p>"
        )

    def test_event_handlers_are_dropped(self) -> None:
        html = clean(
            '<p onclick="alert(1)" OnMouseOver=alert(2) onfocus\n=x>text</p><img src=x onerror=alert(1)>'
        )
        assert html.html == "<p>text</p><img>"

    def test_svg_with_onload_disappears(self) -> None:
        assert clean("<svg onload=alert(1)><circle r=10></circle></svg>").html == ""
        assert (
            clean('<svg><script>alert(1)</script><a xlink:href="javascript:alert(1)">x</a></svg>').html == ""
        )

    def test_mutation_xss_through_math_and_noscript(self) -> None:
        assert clean("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>").html == ""
        result = clean('<noscript><p title="</noscript><img src=x onerror=alert(1)>">')
        assert_harmless(result.html)
        assert "onerror" not in result.html


class TestLinks:
    @pytest.mark.parametrize(
        "href",
        [
            "javascript:alert(1)",
            "  JaVaScRiPt:alert(1)",
            "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
            "&#x6A;avascript&#x3A;alert(1)",
            "jav&#x09;ascript:alert(1)",
            "java\nscript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
        ],
    )
    def test_dangerous_schemes_lose_the_href(self, href: str) -> None:
        assert clean(f'<a href="{href}">x</a>').html == f"<a{LINK_EXTRAS}>x</a>"

    def test_safe_link_opens_in_a_new_tab_without_referrer(self) -> None:
        result = clean(
            '<a href="https://ok.example/a?b=1&amp;c=2" onclick="alert(1)" target="_top" rel="opener">ok</a>'
        )
        assert result.html == f'<a href="https://ok.example/a?b=1&amp;c=2"{LINK_EXTRAS}>ok</a>'

    def test_mailto_is_kept(self) -> None:
        assert (
            clean('<a href="mailto:anna@example.org">a</a>').html
            == f'<a href="mailto:anna@example.org"{LINK_EXTRAS}>a</a>'
        )


class TestActiveContent:
    @pytest.mark.parametrize(
        "html",
        [
            '<iframe src="https://evil.example"></iframe>',
            '<frameset><frame src="https://evil.example"></frameset>',
            '<object data="https://evil.example/x.swf"></object>',
            '<embed src="https://evil.example/x.swf">',
            '<base href="https://evil.example/">',
            '<meta http-equiv="refresh" content="0;url=https://evil.example">',
            '<link rel="stylesheet" href="https://t.example/s.css">',
            "<style>body{background:url(https://t.example/x)}</style>",
            "<title>Spoofed title</title>",
            '<head><meta charset="utf-7"></head>',
            '<video poster="https://t.example/p.png"><source src="https://t.example/v.mp4"></video>',
            '<input type="image" src="https://t.example/i.png">',
            "<template><img src=x onerror=alert(1)></template>",
        ],
    )
    def test_removed_entirely(self, html: str) -> None:
        assert clean(html).html == ""

    def test_form_is_removed_but_its_text_stays(self) -> None:
        result = clean(
            '<form action="https://evil.example/steal"><input name=pw type=password><button formaction=x>Log in</button></form>'
        )
        assert result.html == "Log in"

    def test_htmx_attributes_are_dropped(self) -> None:
        html = '<div hx-get="/logout" hx-trigger="load" data-hx-post="/x" hx-on:click="alert(1)" sse-connect="/events">h</div>'
        assert clean(html).html == "<div>h</div>"

    def test_ids_classes_and_names_are_dropped(self) -> None:
        # An id could clash with the app's own (hx-target="#message-list"), a class borrow its styles.
        assert clean('<div id="message-list" class="toast" name="csrf_token">i</div>').html == "<div>i</div>"

    def test_body_attributes_and_comments_go(self) -> None:
        assert (
            clean('<!-- <script>x</script> --><body bgcolor="red" onload="x()"><p>b</p></body>').html
            == "<p>b</p>"
        )


class TestStyles:
    def test_safe_declarations_survive(self) -> None:
        result = clean(
            "<table><tr><td style=\"color:#333; padding: 4px; font-family: 'Segoe UI'\">t</td></tr></table>"
        )
        assert 'style="color:#333;padding:4px;font-family:&quot;Segoe UI&quot;"' in result.html

    @pytest.mark.parametrize(
        "declaration",
        [
            "width: expression(alert(1))",
            "background:url(https://t.example/p.png)",
            'background-image: URL("https://t.example/p.png")',
            "background: red url(//t.example/p.png)",
            "background: URL   (https://t.example/x)",
            r"background:u\72l(https://t.example/x)",
            r"background:\75rl(https://t.example/x)",
            r"background:url\28https://t.example/x\29",
            "background:u/**/rl(https://t.example/x)",
            'background:image-set("https://t.example/x" 1x)',
            'background:-webkit-image-set("https://t.example/x" 1x)',
            "border-image: url(https://t.example/x)",
            "behavior: url(x.htc)",
            "-moz-binding: url(https://t.example/x.xml#xss)",
            "background:&#117;rl(https://t.example/x)",
        ],
    )
    def test_fetching_and_scripting_declarations_are_dropped(self, declaration: str) -> None:
        result = clean(f'<div style="color:blue;{declaration}">s</div>')
        assert result.html == '<div style="color:blue">s</div>'

    def test_layout_escapes_are_dropped(self) -> None:
        # position:fixed could lay a fake sign-in box over the whole reader.
        assert (
            clean('<div style="position:fixed;top:0;z-index:9;color:red">p</div>').html
            == '<div style="color:red">p</div>'
        )

    def test_style_cannot_break_out_of_the_attribute(self) -> None:
        result = clean('<div style="color:red;}</style><script>alert(1)</script>">a</div>')
        assert result.html == '<div style="color:red">a</div>'

    def test_background_attribute_is_dropped(self) -> None:
        result = clean(
            '<table background="https://t.example/bg.png"><tr><td background="https://t.example/bg.png">t</td></tr></table>'
        )
        assert result.html == "<table><tbody><tr><td>t</td></tr></tbody></table>"
        assert result.remote_blocked == 0


class TestImages:
    def test_remote_image_is_blocked_and_counted(self) -> None:
        result = clean('<img src="https://cdn.example/photo.jpg" width="600" alt="Photo">')
        assert result.html == '<img alt="Photo" width="600">'
        assert result.remote_blocked == 1
        assert result.remote_present
        assert result.trackers == []

    def test_remote_image_is_shown_once_allowed(self) -> None:
        result = clean('<img src="https://cdn.example/photo.jpg">', allow_remote=True)
        assert result.html == '<img src="https://cdn.example/photo.jpg">'
        assert result.remote_blocked == 0

    def test_protocol_relative_image_is_remote_content(self) -> None:
        assert clean('<img src="//cdn.example/photo.jpg">').remote_blocked == 1
        shown = clean('<img src="//cdn.example/photo.jpg">', allow_remote=True)
        assert shown.html == '<img src="https://cdn.example/photo.jpg">'

    def test_srcset_never_loads_anything(self) -> None:
        result = clean(
            '<img srcset="https://t.example/a.png 1x, https://t.example/b.png 2x" src="cid:logo@example.org">'
        )
        assert result.html == '<img src="/mail/INBOX/7/part/2">'

    @pytest.mark.parametrize(
        "src",
        ["data:image/png;base64,iVBORw0KGgo=", "/logout", "x", "javascript:alert(1)", "file:///etc/passwd"],
    )
    def test_other_sources_are_dropped_without_counting(self, src: str) -> None:
        result = clean(f'<img src="{src}" alt="a">', allow_remote=True)
        assert result.html == '<img alt="a">'
        assert result.remote_blocked == 0

    def test_inline_image_points_at_the_app(self) -> None:
        result = clean('<img src="cid:logo@example.org"><img src="  CID:<logo@example.org> ">')
        assert result.html == '<img src="/mail/INBOX/7/part/2"><img src="/mail/INBOX/7/part/2">'
        assert result.cids_used == {"logo@example.org"}
        assert result.remote_blocked == 0

    def test_unknown_inline_image_loses_its_src(self) -> None:
        result = clean('<img src="cid:missing@example.org" alt="gone">')
        assert result.html == '<img alt="gone">'
        assert result.cids_used == set()


class TestTrackers:
    @pytest.mark.parametrize(
        "img",
        [
            '<img src="https://t.example/o.gif" width="1" height="1">',
            "<IMG SRC=https://t.example/o.gif WIDTH=1 HEIGHT=1>",
            '<img src="https://t.example/o.gif" width="0">',
            '<img src="https://t.example/o.gif" height="1px">',
            '<img src="https://t.example/o.gif" style="display:none">',
            '<img src="https://t.example/o.gif" style="visibility: hidden">',
            '<img src="https://t.example/o.gif" style="border:0;width:1px">',
            "<img src='http://T.Example:8080/o.gif?u=42' width=1>",
            '<img src=" https://t.example/o.gif" width="1">',
            '<img src="https&#58;//t.example/o.gif" width="1">',
            '<img src="//t.example/o.gif" width="1">',
            '<img src="https://user@t.example/o.gif" width="1">',
        ],
    )
    def test_pixels_and_hidden_images_are_named(self, img: str) -> None:
        result = clean(f"<p>Hello</p>{img}")
        assert result.trackers == ["t.example"]
        assert result.remote_blocked == 1
        assert "t.example" not in result.html

    def test_trackers_are_named_even_when_remote_content_is_allowed(self) -> None:
        result = clean('<img src="https://t.example/o.gif" width="1" height="1">', allow_remote=True)
        assert result.trackers == ["t.example"]

    def test_ordinary_images_and_inline_pixels_are_not_trackers(self) -> None:
        result = clean(
            '<img src="https://cdn.example/a.png" width="600"><img src="cid:logo@example.org" width="1">'
        )
        assert result.trackers == []
        assert result.remote_blocked == 1


class TestBrokenInput:
    @pytest.mark.parametrize(
        "html",
        ["", "<", "<<<>>>", "<p", "<a href=", '<img src="', "</div></div></p>", "\x00<p>\x00</p>", "<p>" * 5000,
         "<!--", "<![CDATA[<script>alert(1)</script>]]>", "<?xml version='1.0'?><p>x</p>"],
    )  # fmt: skip
    def test_never_raises_and_stays_harmless(self, html: str) -> None:
        assert_harmless(clean(html).html)

    def test_text_is_escaped_not_interpreted(self) -> None:
        assert clean("1 < 2 &amp; 3 > 2 &lt;script&gt;").html == "1 &lt; 2 &amp; 3 &gt; 2 &lt;script&gt;"


VECTORS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">', '<a href="&#106;avascript:alert(1)">', '<div style="background:url(x)">',
    '<div style="width:expression(alert(1))">', '<div hx-get="/logout" hx-trigger="load">', "<iframe src=x>",
    "<form action=x><input name=p>", "<object data=x>", "<embed src=x>", "<base href=//evil.example/>",
    '<meta http-equiv=refresh content="0;url=x">', '<img srcset="https://t.example/a 1x">',
    '<td background="https://t.example/b">', '<style>@import "x";</style>', "<math><mtext><table><mglyph><style>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">', '<img src="https://t.example/p" width=1>',
    '<p style="color:red;background:u\\72l(//t.example)">', "<a href='//evil.example'>", '"', "'", "<", ">", "=",
    " onload=", "<p ", "</", "<!--", "-->", "&#", ";", "&lt;script&gt;",
]  # fmt: skip


@given(st.lists(st.sampled_from(VECTORS) | st.text(max_size=12), max_size=12).map("".join), st.booleans())
def test_no_input_yields_script_handler_frame_or_remote_fetch(html: str, allow_remote: bool) -> None:
    result = clean(html, allow_remote=allow_remote)
    assert_harmless(result.html, remote=allow_remote)
    # nh3 writes every attribute value in double quotes (quotes inside escaped): outside them,
    # no tag may hold a handler.
    for tag in re.findall(r"<[^>]*>", result.html):
        assert not re.search(r"\son\w+\s*=", re.sub(r'"[^"]*"', '""', tag), re.I), tag
