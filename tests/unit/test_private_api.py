"""imapclient's and poplib's private API is used in one wrapper module each, so an upgrade is checked there."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "webmail"
WRAPPERS = {"imap/raw.py", "pop3/client.py"}
UNDOCUMENTED = {"untagged_responses"}  # imaplib's, public by name only


def private_uses(path: Path) -> list[str]:
    """Private attributes read on objects other than self/cls, and private names imported from libraries."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute):
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if (private and not own) or node.attr in UNDOCUMENTED:
                uses.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("webmail"):
            uses += [
                f"line {node.lineno}: {alias.name}" for alias in node.names if alias.name.startswith("_")
            ]
    return uses


def test_private_library_api_only_in_the_wrappers() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in WRAPPERS and (uses := private_uses(path)):
            found[name] = uses
    assert found == {}


def test_the_wrappers_hold_the_private_calls() -> None:
    raw = " ".join(private_uses(PACKAGE / "imap" / "raw.py"))
    pop3 = " ".join(private_uses(PACKAGE / "pop3" / "client.py"))
    assert "client._imap" in raw
    assert "client._raw_command_untagged" in raw
    assert "untagged_responses" in raw
    assert "self.pop._shortcmd" in pop3
