"""Writes static/icons.svg: the Lucide icons the templates use, as one SVG sprite.

    npm pack lucide-static@1.62.0 && tar xzf lucide-static-1.62.0.tgz
    python tools/build_icons.py package            # the unpacked npm package

Templates name icons by what they mean (``icon("junk")``); ICONS says which Lucide icon that is.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ICONS = {
    "inbox": "inbox",
    "drafts": "file-pen",
    "sent": "send",
    "archive": "archive",
    "junk": "octagon-alert",
    "trash": "trash-2",
    "folder": "folder",
    "clip": "paperclip",
    "search": "search",
    "star": "star",
    "reply": "reply",
    "reply-all": "reply-all",
    "forward": "forward",
    "more": "ellipsis",
    "chevron-down": "chevron-down",
    "chevron-left": "chevron-left",
    "chevron-right": "chevron-right",
    "move": "folder-input",
    "tag": "tag",
    "mail": "mail",
    "mail-open": "mail-open",
    "compose": "square-pen",
    "edit": "pencil",
    "menu": "menu",
    "settings": "settings",
    "contacts": "book-user",
    "sign-out": "log-out",
    "close": "x",
    "check": "check",
    "back": "arrow-left",
    "download": "download",
    "code": "code",
    "file": "file-text",
    "image": "image",
    "list": "list",
    "conversations": "messages-square",
    "bell": "bell",
    "filter": "funnel",
    "sort": "arrow-up-down",
    "copy": "copy",
    "eye": "eye",
    "clock": "clock",
    "upload": "upload",
    "minimize": "minimize-2",
    "maximize": "maximize-2",
    "pop-out": "external-link",
    "user": "user",
    "general": "sliders-horizontal",
    "keyboard": "keyboard",
    "reading": "book-open",
    "writing": "pen-line",
    "server": "server",
    "plus": "plus",
    "info": "info",
    "alert": "circle-alert",
    "storage": "hard-drive",
    "identity": "at-sign",
    "users": "users",
    "undo": "undo-2",
}
# On each symbol: a <use> clones the symbol, not the sprite's root, into the page. No fill here:
# the page's .icon sets it (none), so a pressed star can fill itself.
STROKE = 'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"'
ROOT = Path(__file__).resolve().parent.parent


def symbol(name: str, source: str) -> str:
    body = re.sub(r"<!--.*?-->", "", source, flags=re.S)
    inner = re.search(r"<svg[^>]*>(.*)</svg>", body, re.S)
    if inner is None:
        raise SystemExit(f"not an SVG: {name}")
    shapes = " ".join(line.strip() for line in inner.group(1).strip().splitlines())
    return f'  <symbol id="{name}" viewBox="0 0 24 24" {STROKE}>{shapes}</symbol>'


def main(package: Path) -> None:
    version = json.loads((package / "package.json").read_text())["version"]
    licence = (package / "LICENSE").read_text().split("---")[0].strip()
    symbols = [
        symbol(name, (package / "icons" / f"{lucide}.svg").read_text()) for name, lucide in ICONS.items()
    ]
    sprite = "\n".join(
        [
            f"<!-- Icons from lucide-static {version} (https://lucide.dev), built by tools/build_icons.py.",
            licence.replace("--", "-"),
            "-->",
            '<svg xmlns="http://www.w3.org/2000/svg">',
            *symbols,
            "</svg>",
            "",
        ]
    )
    (ROOT / "static" / "icons.svg").write_text(sprite)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
