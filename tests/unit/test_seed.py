from __future__ import annotations

from email import message_from_bytes, policy

from webmail.devservices.seed import DemoMailbox, tiny_pdf, tiny_png

OWNER = ("Demo User", "demo@example.test")


def generate() -> list[tuple[str, bytes, tuple[bytes, ...]]]:
    return [(m.folder, m.raw, m.flags) for m in DemoMailbox(OWNER, seed=1).messages(160)]


def test_deterministic() -> None:
    assert generate() == generate()


def test_variety() -> None:
    messages = [message_from_bytes(raw, policy=policy.default) for _, raw, _ in generate()]
    types = {part.get_content_type() for msg in messages for part in msg.walk()}
    assert {"text/plain", "text/html", "multipart/alternative", "multipart/related", "image/png"} <= types
    assert "application/pdf" in types
    assert any(msg["In-Reply-To"] for msg in messages)
    assert any("=?utf-8?" in raw.decode("ascii", "replace").lower() for _, raw, _ in generate())
    assert any(part.get_content_charset() == "iso-8859-1" for msg in messages for part in msg.walk())
    flags = [f for _, _, f in generate()]
    assert any(b"\\Flagged" in f for f in flags)
    assert any(b"\\Seen" not in f for f in flags)
    assert any(b"\\Answered" in f for f in flags)
    assert len({folder for folder, _, _ in generate()}) >= 6
    dates = sorted(msg["Date"].datetime for msg in messages)
    assert (dates[-1] - dates[0]).days > 600


def test_binary_fixtures_are_valid() -> None:
    assert tiny_png((1, 2, 3)).startswith(b"\x89PNG\r\n\x1a\n")
    pdf = tiny_pdf("hello")
    assert pdf.startswith(b"%PDF-1.4")
    assert pdf.rstrip().endswith(b"%%EOF")
