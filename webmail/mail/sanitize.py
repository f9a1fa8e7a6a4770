"""HTML mail is hostile: an nh3 allow-list for email, remote content blocked until allowed.

Scripts, event handlers, forms, frames, ``<base>``, ``<style>``, relative links (they would lead
into the webmail itself) and every ``url(`` in styles are removed; links open in a new tab
without opener or referrer;
``cid:`` images point at the app; remote images keep their ``src`` only when the user allowed
remote content, otherwise they are counted (tracking pixels separately) and dropped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape

import nh3

TABLE_TAGS = ("table", "td", "th", "tr", "tbody", "thead", "tfoot")
TABLE_ATTRIBUTES = {"width", "height", "bgcolor", "valign", "align", "border", "cellpadding", "cellspacing"}
STYLE_PROPERTIES = frozenset(
    """color background-color font font-family font-size font-weight font-style line-height text-align
    text-decoration text-transform letter-spacing vertical-align padding padding-top padding-right
    padding-bottom padding-left margin margin-top margin-right margin-bottom margin-left border
    border-collapse border-spacing border-top border-right border-bottom border-left border-color
    border-style border-width border-radius width max-width min-width height max-height min-height
    display white-space background list-style-type""".split()
)
# Functions that fetch a resource (url, image-set, image, cross-fade, element, src) or run code.
_DANGEROUS_STYLE = re.compile(
    r"(?:url|image-set|image|cross-fade|element|src|expression)\s*\(|javascript:|@import|behavior\s*:|-moz-binding",
    re.I,
)
# CSS escapes (``u\72l(`` is ``url(``) and comments, undone before the check: nh3 undoes them too.
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})\s?|(.))", re.S)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_PIXEL = re.compile(r"^\s*[01](px)?\s*$")
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|(?:^|;)\s*(?:width|height)\s*:\s*[01]px", re.I
)


def _css_unescape(match: re.Match[str]) -> str:
    digits, char = match.groups()
    if digits is None:
        return "" if char == "\n" else char
    code = int(digits, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"


def _dangerous_style(declaration: str) -> bool:
    plain = _CSS_ESCAPE.sub(_css_unescape, _CSS_COMMENT.sub("", declaration))
    return bool(_DANGEROUS_STYLE.search(declaration) or _DANGEROUS_STYLE.search(plain))


def _tags() -> set[str]:
    return set(nh3.ALLOWED_TAGS) | {"font", "center", "tfoot", "img"}


def _attributes() -> dict[str, set[str]]:
    attributes = copy.deepcopy(nh3.ALLOWED_ATTRIBUTES)
    for tag in TABLE_TAGS:
        attributes.setdefault(tag, set()).update(TABLE_ATTRIBUTES)
    attributes.setdefault("font", set()).update({"face", "color", "size"})
    attributes.setdefault("img", set()).update({"src", "alt", "width", "height", "title", "align", "border"})
    attributes.setdefault("a", set()).update({"href", "title"})
    attributes.setdefault("*", set()).update({"style", "dir", "lang", "title", "align"})
    for allowed in attributes.values():
        allowed.discard("rel")  # nh3 sets rel itself via link_rel
    return attributes


# Built once: the deep copy and updates took a third of a small message's sanitising.
TAGS = _tags()
ATTRIBUTES = _attributes()


@dataclass
class SanitizedHTML:
    html: str
    remote_blocked: int = 0
    trackers: list[str] = field(default_factory=list)
    cids_used: set[str] = field(default_factory=set)

    @property
    def remote_present(self) -> bool:
        return self.remote_blocked > 0


# Tags, for counting how deep elements nest (no parse: this decides whether to parse at all).
_TAG_SCAN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
_ANY_TAG = re.compile(r"<[^>]*>")
SIMPLIFIED_NOTICE = "This message's formatting is too large or too deeply nested; it is shown simplified."


def too_complex(html: str, max_bytes: int, max_depth: int) -> bool:
    """Whether ``html`` is beyond what the sanitiser is given: more than ``max_bytes`` characters,
    or elements nested deeper than ``max_depth`` (counted from the tags, in one pass)."""
    if len(html) > max_bytes:
        return True
    depth = 0
    for match in _TAG_SCAN.finditer(html):
        closing, name = match.groups()
        if closing:
            depth = max(0, depth - 1)
        elif name.lower() not in _VOID:
            depth += 1
            if depth > max_depth:
                return True
    return False


def html_as_text(html: str) -> str:
    """The text of HTML without parsing it: tags out, entities decoded, blank runs shortened."""
    text = unescape(_ANY_TAG.sub(" ", html[: 4 * 1024 * 1024]))
    return re.sub(r"[ \t]*\n\s*\n\s*", "\n\n", re.sub(r"[ \t\r\f\v]+", " ", text)).strip()


def sanitize_html(
    html: str,
    *,
    cid_url: Callable[[str], str | None],
    allow_remote: bool = False,
) -> SanitizedHTML:
    """Clean one HTML body. ``cid_url(content_id)`` maps an inline image to its app URL."""
    result = SanitizedHTML("")
    own_urls: set[str] = set()

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "style":
            declarations = [d for d in value.split(";") if d.strip() and not _dangerous_style(d)]
            return ";".join(declarations) or None
        if attr == "background":
            return None
        if tag == "img" and attr == "src":
            return _image_source(value)
        return value

    def _image_source(value: str) -> str | None:
        source = value.strip()
        lowered = source.lower()
        if lowered.startswith("cid:"):
            content_id = source[4:].strip("<>")
            url = cid_url(content_id)
            if url:
                result.cids_used.add(content_id)
                own_urls.add(url)
            return url
        if lowered.startswith(("http://", "https://", "//")):
            if allow_remote:
                return f"https:{source}" if source.startswith("//") else source
            result.remote_blocked += 1
            return None
        return None

    cleaner = nh3.Cleaner(
        tags=TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "cid"},
        # A relative link would resolve against the webmail's own origin (no <base> survives):
        # only the part URLs made for cid: images stay.
        url_relative=lambda url: url if url in own_urls else None,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=set(STYLE_PROPERTIES),
        strip_comments=True,
    )
    _count_trackers(html, result)
    result.html = cleaner.clean(html)
    return result


_IMG = re.compile(r"<img\b[^>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
_REMOTE_HOST = re.compile(r"^(?:https?:)?//(?:[^/?#@]*@)?([^/:?#]+)", re.I)


def _count_trackers(html: str, result: SanitizedHTML) -> None:
    """Remote images of 1×1 pixels or hidden by style: named in the banner as trackers."""
    for tag in _IMG.findall(html):
        attrs = {k.lower(): unescape(v.strip("\"'")).strip() for k, v in _ATTR.findall(tag)}
        remote = _REMOTE_HOST.match(attrs.get("src", ""))
        if remote is None:
            continue
        tiny = _PIXEL.match(attrs.get("width", "")) or _PIXEL.match(attrs.get("height", ""))
        hidden = _HIDDEN_STYLE.search(attrs.get("style", ""))
        if tiny or hidden:
            result.trackers.append(remote.group(1).lower())
