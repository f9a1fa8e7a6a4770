"""The MIME tree from an IMAP BODYSTRUCTURE (RFC 3501 §7.4.2), with section numbers.

Input is the nested tuples/lists imapclient returns; output is plain dataclasses. The tree also
decides what is shown (the body parts) and what is offered for download (the attachments).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import decode_rfc2231
from typing import Any
from urllib.parse import unquote_to_bytes

from webmail.limits import DEFAULT_LIMITS, Limits
from webmail.mail.charset import decode_bytes
from webmail.mail.headers import decode_words

MAX_DEPTH = DEFAULT_LIMITS.max_mime_depth


@dataclass
class BodyPart:
    section: str
    maintype: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None
    description: str | None = None
    encoding: str = "7bit"
    size: int = 0
    disposition: str | None = None
    filename: str | None = None
    children: list[BodyPart] = field(default_factory=list)
    # For message/rfc822: the envelope tuple and the embedded body.
    envelope: Any = None
    message: BodyPart | None = None

    @property
    def content_type(self) -> str:
        return f"{self.maintype}/{self.subtype}"

    @property
    def is_multipart(self) -> bool:
        return self.maintype == "multipart"

    @property
    def charset(self) -> str | None:
        return self.params.get("charset")

    @property
    def is_attachment(self) -> bool:
        return self.disposition == "attachment"

    def walk(self) -> Iterator[BodyPart]:
        yield self
        for child in self.children:
            yield from child.walk()
        if self.message is not None:
            yield from self.message.walk()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _params(raw: Any) -> dict[str, str]:
    """Parameter list to dict, joining RFC 2231 continuations and charsets (``name*0*=``)."""
    if not isinstance(raw, (list, tuple)):
        return {}
    items = [(_text(raw[i]) or "", _text(raw[i + 1]) or "") for i in range(0, len(raw) - 1, 2)]
    plain: dict[str, str] = {}
    extended: list[tuple[str, str]] = []
    for key, value in items:
        key = key.lower()
        if "*" in key:
            extended.append((key, value))
        else:
            plain[key] = value
    if extended:
        try:
            for name, value in decode_rfc2231_params(extended).items():
                plain[name] = value
        except Exception:  # noqa: S110 - a broken RFC 2231 value falls back to the plain one
            pass
    return {key: decode_words(value) for key, value in plain.items()}


def decode_rfc2231_params(items: list[tuple[str, str]]) -> dict[str, str]:
    grouped: dict[str, list[tuple[int, bool, str]]] = {}
    for key, value in items:
        name, _, rest = key.partition("*")
        encoded = rest.endswith("*") or rest == ""
        number = rest.rstrip("*")
        grouped.setdefault(name, []).append((int(number) if number.isdigit() else 0, encoded, value))
    result = {}
    for name, pieces in grouped.items():
        pieces.sort()
        joined = ""
        charset = "utf-8"
        for index, (_, encoded, value) in enumerate(pieces):
            if encoded and index == 0 and value.count("'") >= 2:
                declared, _, value = decode_rfc2231(value)
                charset = declared or "utf-8"
            joined += value
        result[name] = decode_bytes(unquote_to_bytes(joined), charset).text if "%" in joined else joined
    return result


def parse_bodystructure(raw: Sequence[Any], limits: Limits = DEFAULT_LIMITS) -> BodyPart:
    """Build the part tree; a single-part message is section ``1``. Parts nested deeper than
    ``max_mime_depth`` are download-only, and after ``max_mime_parts`` parts the rest are left
    out (the whole message can still be downloaded)."""
    budget = _Budget(limits.max_mime_parts, limits.max_mime_depth)
    if _is_multipart(raw):
        return _parse(raw, "", 0, budget)
    return _parse(raw, "1", 0, budget)


@dataclass
class _Budget:
    parts: int
    depth: int


def _is_multipart(raw: Sequence[Any]) -> bool:
    return bool(raw) and isinstance(raw[0], (list, tuple))


def _split_multipart(raw: Sequence[Any]) -> tuple[Sequence[Any], Sequence[Any]]:
    """The children and the rest (subtype, parameters, ...). imapclient gathers the children of
    the top level into a list, but leaves those inside a message/rfc822 as leading tuples."""
    if isinstance(raw[0], list):
        return raw[0], raw[1:]
    count = next((i for i, item in enumerate(raw) if not isinstance(item, (list, tuple))), len(raw))
    return raw[:count], raw[count:]


def _parse(raw: Sequence[Any], section: str, depth: int, budget: _Budget) -> BodyPart:
    budget.parts -= 1
    if depth > budget.depth or not isinstance(raw, (list, tuple)) or not raw:
        return BodyPart(section, "application", "octet-stream")  # download-only, never shown
    if _is_multipart(raw):
        children_raw, rest = _split_multipart(raw)
        subtype = (_text(rest[0]) or "mixed").lower() if rest else "mixed"
        part = BodyPart(section or "TEXT", "multipart", subtype, _params(rest[1] if len(rest) > 1 else None))
        prefix = f"{section}." if section else ""
        for i, child in enumerate(children_raw, 1):
            if budget.parts <= 0:
                break
            part.children.append(_parse(child, f"{prefix}{i}", depth + 1, budget))
        if len(rest) > 2:
            part.disposition, _ = _disposition(rest[2])
        return part
    maintype = (_text(raw[0]) or "text").lower()
    subtype = (_text(raw[1]) or "plain").lower() if len(raw) > 1 else "plain"
    part = BodyPart(
        section,
        maintype,
        subtype,
        params=_params(raw[2] if len(raw) > 2 else None),
        content_id=_text(raw[3]) if len(raw) > 3 else None,
        description=decode_words(_text(raw[4])) if len(raw) > 4 and raw[4] else None,
        encoding=(_text(raw[5]) or "7bit").lower() if len(raw) > 5 else "7bit",
        size=raw[6] if len(raw) > 6 and isinstance(raw[6], int) else 0,
    )
    if part.content_type == "message/rfc822" and len(raw) > 8:
        part.envelope = raw[7]
        inner = raw[8]
        if isinstance(inner, (list, tuple)) and inner:
            part.message = (
                _parse(inner, section, depth + 1, budget)
                if _is_multipart(inner)
                else _parse(inner, f"{section}.1", depth + 1, budget)
            )
        extension = 10
    elif maintype == "text":
        extension = 8
    else:
        extension = 7
    disposition_at = extension + 1
    disposition_params: dict[str, str] = {}
    if len(raw) > disposition_at:
        part.disposition, disposition_params = _disposition(raw[disposition_at])
    part.filename = disposition_params.get("filename") or part.params.get("name") or None
    return part


def _disposition(raw: Any) -> tuple[str | None, dict[str, str]]:
    if not isinstance(raw, (list, tuple)) or not raw:
        return None, {}
    kind = (_text(raw[0]) or "").lower() or None
    return kind, _params(raw[1] if len(raw) > 1 else None)


@dataclass
class Layout:
    """What to show: the body parts in order, nested messages, and what to list as attachments."""

    body: list[BodyPart]
    attachments: list[BodyPart]
    inline_resources: dict[str, BodyPart]  # Content-ID (without <>) -> part
    has_html: bool
    has_plain_alternative: bool


def layout(root: BodyPart, *, prefer_html: bool = True) -> Layout:
    body: list[BodyPart] = []
    attachments: list[BodyPart] = []
    resources: dict[str, BodyPart] = {}
    state = {"html": False, "plain_alt": False}

    def visit(part: BodyPart, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if part.is_multipart:
            if part.subtype == "alternative" and part.children:
                plain = [c for c in part.children if c.content_type == "text/plain"]
                rich = [c for c in part.children if c.content_type == "text/html" or c.is_multipart]
                if rich:
                    state["html"] = True
                if plain and rich:
                    state["plain_alt"] = True
                chosen = rich[-1] if prefer_html and rich else (plain[-1] if plain else part.children[-1])
                visit(chosen, depth + 1)
                for other in part.children:
                    if other is not chosen and other.is_multipart:
                        _collect_resources(other, resources)
            elif part.subtype == "related" and part.children:
                start = part.params.get("start")
                root_part = next((c for c in part.children if c.content_id == start), part.children[0])
                visit(root_part, depth + 1)
                for child in part.children:
                    if child is not root_part:
                        if child.content_id:
                            resources[child.content_id.strip("<>")] = child
                        if child.is_attachment or not child.content_id:
                            attachments.append(child)
            else:
                for child in part.children:
                    visit(child, depth + 1)
            return
        if part.content_type in ("text/plain", "text/html") and not part.is_attachment:
            if part.content_type == "text/html":
                state["html"] = True
            body.append(part)
            return
        if part.content_type == "message/rfc822" and not part.is_attachment:
            body.append(part)
            return
        if part.content_id and part.maintype == "image":
            resources[part.content_id.strip("<>")] = part
        attachments.append(part)

    visit(root, 0)
    return Layout(body, attachments, resources, state["html"], state["plain_alt"])


def _collect_resources(part: BodyPart, into: dict[str, BodyPart]) -> None:
    for sub in part.walk():
        if sub.content_id:
            into[sub.content_id.strip("<>")] = sub
