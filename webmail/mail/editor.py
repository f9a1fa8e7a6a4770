"""What the compose editor produces: format=flowed text (RFC 3676), and for the HTML editor a
sanitised HTML part with a plain-text twin."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3
from markupsafe import Markup

WIDTH = 76
QUOTE = re.compile(r"^(>+) ?")

# What the small editor can make; everything else is dropped before sending.
EDITOR_TAGS = {"p", "br", "div", "b", "strong", "i", "em", "u", "s", "ul", "ol", "li", "a", "blockquote",
               "pre", "code", "h1", "h2", "h3", "hr", "span"}  # fmt: skip
EDITOR_ATTRIBUTES = {"a": {"href", "title"}}
# The markup text_to_editor_html writes; Markup.format escapes the text put into it.
_PARAGRAPH = Markup("<div>{}</div>")
_EMPTY_PARAGRAPH = Markup("<div><br></div>")
_QUOTE_OPEN, _QUOTE_CLOSE = Markup("<blockquote>"), Markup("</blockquote>")


def to_flowed(text: str, width: int = WIDTH) -> str:
    """Plain text as format=flowed: long lines broken at spaces with a trailing space (a soft
    break the reader re-joins), quotes kept per line, and space-stuffing where RFC 3676 asks."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "-- ":  # the signature separator keeps its space
            out.append(line)
            continue
        match = QUOTE.match(line)
        depth = len(match.group(1)) if match else 0
        content = (line[match.end() :] if match else line).rstrip(" ")
        prefix = ">" * depth + " " if depth else ""
        room = max(width - len(prefix), 20)
        pieces = _wrap(content, room)
        for index, piece in enumerate(pieces):
            soft = index < len(pieces) - 1
            if not depth and piece.startswith((" ", ">", "From ")):
                piece = " " + piece  # space-stuffing (RFC 3676 section 4.4)
            out.append(prefix + piece + (" " if soft else ""))
    return "\n".join(out)


def _wrap(content: str, room: int) -> list[str]:
    if len(content) <= room:
        return [content]
    words = content.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if len(candidate) > room and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def clean_editor_html(markup: str) -> str:
    """The editor's HTML, reduced to what it can make (no scripts, styles, images or events)."""
    return nh3.clean(
        markup,
        tags=EDITOR_TAGS,
        attributes=EDITOR_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def html_document(fragment: str) -> str:
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family: sans-serif">{fragment}</body></html>\n'
    )


def text_to_editor_html(text: str) -> str:
    """Plain text (e.g. a quoted reply) as editor HTML: paragraphs, and blockquotes for ``>``."""
    blocks: list[Markup] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        match = QUOTE.match(line)
        depth = len(match.group(1)) if match else 0
        content = line[match.end() :] if match else line
        paragraph = _PARAGRAPH.format(content) if content else _EMPTY_PARAGRAPH
        blocks.append(_QUOTE_OPEN * depth + paragraph + _QUOTE_CLOSE * depth)
    return str(Markup("").join(blocks))


class _TextMaker(HTMLParser):
    BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "pre", "blockquote", "tr", "ul", "ol", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.depth = 0
        self.counters: list[int | None] = []  # per open list: the number, None for bullets
        self.href: str | None = None

    def _break(self) -> None:
        """Start a new line unless the current one is still empty."""
        if self.lines[-1].strip():
            self.lines.append("")

    def _write(self, text: str) -> None:
        if not self.lines[-1]:
            self.lines[-1] = ">" * self.depth + (" " if self.depth else "")
            text = text.lstrip()
        self.lines[-1] += text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.lines.append("")
        elif tag == "li":
            self._break()
            if self.counters and self.counters[-1] is not None:
                self.counters[-1] += 1
                self._write(f"{self.counters[-1]}. ")
            else:
                self._write("- ")
        elif tag == "a":
            self.href = dict(attrs).get("href")
        elif tag in self.BLOCKS:
            self._break()
            if tag == "blockquote":
                self.depth += 1
            elif tag in ("ul", "ol"):
                self.counters.append(0 if tag == "ol" else None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            if self.href and self.href.startswith(("http:", "https:", "mailto:")):
                self._write(f" <{self.href.removeprefix('mailto:')}>")
            self.href = None
        elif tag in self.BLOCKS:
            self._break()
            if tag == "blockquote":
                self.depth = max(0, self.depth - 1)
            elif tag in ("ul", "ol") and self.counters:
                self.counters.pop()

    def handle_data(self, data: str) -> None:
        text = re.sub(r"\s+", " ", data)
        if text.strip() or self.lines[-1].strip():
            self._write(text)


def html_to_text(markup: str) -> str:
    """The plain twin of editor HTML: paragraphs, ``>`` quotes, list markers, link targets."""
    maker = _TextMaker()
    maker.feed(markup)
    maker.close()
    return "\n".join(line.rstrip() for line in maker.lines).strip("\n") + "\n"
