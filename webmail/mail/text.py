"""Plain text mail to safe HTML: format=flowed (RFC 3676), folded quotes, links, dimmed signature."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

_URL = re.compile(
    r"(?P<url>(?:https?://|www\.)[^\s<>\"'()\[\]]+(?:\([^\s<>\"'()]*\)[^\s<>\"'()\[\]]*)*)"
    r"|(?P<mail>(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
    re.I,
)
_TRAILING = ".,;:!?"
MAX_LINE = 10_000
# The only markup this module writes; text goes in through Markup.format, which escapes it.
_LINK = Markup('<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{text}</a>')
_QUOTE_OPEN = Markup('<details class="quote"><summary>Show quoted text</summary><blockquote>')
_NESTED_QUOTE_OPEN = Markup('<details class="quote" open><summary>More quoted text</summary><blockquote>')
_QUOTE_CLOSE = Markup("</blockquote></details>")
_LINE = Markup("{}\n")


@dataclass(frozen=True)
class Line:
    depth: int
    text: str


def unflow(text: str, *, delsp: bool = False) -> list[Line]:
    """Join soft line breaks of format=flowed text, keeping quote depth per paragraph."""
    lines: list[Line] = []
    buffer: str | None = None
    buffer_depth = 0
    for raw in text.splitlines():
        depth = len(raw) - len(raw.lstrip(">"))
        content = raw[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        soft = content.endswith(" ") and content != "-- "
        if buffer is not None and depth != buffer_depth:
            lines.append(Line(buffer_depth, buffer))
            buffer = None
        if soft:
            piece = content[:-1] if delsp else content
            buffer = piece if buffer is None else buffer + piece
            buffer_depth = depth
            continue
        if buffer is not None:
            lines.append(Line(depth, buffer + content))
            buffer = None
        else:
            lines.append(Line(depth, content))
    if buffer is not None:
        lines.append(Line(buffer_depth, buffer))
    return lines


def fixed_lines(text: str) -> list[Line]:
    lines = []
    for raw in text.splitlines():
        stripped = raw.lstrip()
        depth = 0
        while stripped.startswith(">"):
            depth += 1
            stripped = stripped[1:].lstrip(" ") if stripped[1:2] in (" ", ">") else stripped[1:]
        lines.append(Line(depth, stripped if depth else raw))
    return lines


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn URLs and addresses into links that open in a new tab."""
    out: list[Markup] = []
    position = 0
    for match in _URL.finditer(text):
        start, end = match.span()
        token = match.group(0)
        trail = ""
        while token and token[-1] in _TRAILING:
            trail = token[-1] + trail
            token = token[:-1]
        end -= len(trail)
        out.append(escape(text[position:start]))
        if match.group("mail"):
            href = "mailto:" + token.removeprefix("mailto:")
        else:
            href = token if token.lower().startswith(("http://", "https://")) else f"https://{token}"
        out.append(_LINK.format(href=href, text=token))
        position = end
    out.append(escape(text[position:]))
    return Markup("").join(out)


def text_to_html(text: str, *, flowed: bool = False, delsp: bool = False) -> str:
    """Render plain text as HTML: quotes in foldable blocks, the signature dimmed."""
    lines = unflow(text, delsp=delsp) if flowed else fixed_lines(text)
    html: list[Markup] = [Markup('<div class="plain">')]
    depth = 0
    in_signature = False
    for line in lines:
        if line.depth == 0 and line.text in ("-- ", "--") and not in_signature:
            html.extend([_QUOTE_CLOSE] * depth)
            depth = 0
            html.append(Markup('<div class="signature">'))
            in_signature = True
        if line.depth > depth:
            html.extend(
                _QUOTE_OPEN if level == 1 else _NESTED_QUOTE_OPEN
                for level in range(depth + 1, line.depth + 1)
            )
            depth = line.depth
        elif line.depth < depth:
            html.extend([_QUOTE_CLOSE] * (depth - line.depth))
            depth = line.depth
        content = line.text[:MAX_LINE] + ("…" if len(line.text) > MAX_LINE else "")
        html.append(_LINE.format(linkify(content)))
    html.extend([_QUOTE_CLOSE] * depth)
    if in_signature:
        html.append(Markup("</div>"))
    html.append(Markup("</div>"))
    return str(Markup("").join(html))
