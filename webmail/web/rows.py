"""The message list's rows, rendered once and reused while nothing they show has changed.

A list page is re-rendered whenever anything in the folder changes (opening a message marks it
read), yet 49 of its 50 rows are the same as before; rendering a row is most of the page's CPU.
A row's HTML is a pure function of the key below (the summary with its flags, the links, the
searched words, the zone and today's date there, the root path, whether htmx asked), so a hit is exactly what a new
rendering would give, and sharing the bounded per-process cache cannot show anyone anything
that is not theirs: the key holds all of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from webmail.imap.types import MessageSummary
from webmail.web.htmx import HtmxDetails

ROW_TEMPLATE = "partials/_message_row.html"
MAX_ROWS = 4000  # about 1 KB each


class RowCache:
    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._rows: OrderedDict[Hashable, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Markup | None:
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
            return row

    def put(self, key: Hashable, row: Markup) -> None:
        with self._lock:
            self._rows[key] = row
            self._rows.move_to_end(key)
            while len(self._rows) > self.max_rows:
                self._rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)


rows = RowCache()


def install(env: Environment) -> None:
    env.globals["message_row"] = message_row
    env.globals["lean_markup"] = lean_markup


def lean_markup(request: Any) -> bool:
    """Whether htmx asked (JavaScript is on the other side): the list then leaves out what app.js
    adds from the row's data-uid, as the template writes it: each row's checkbox (as the row is
    inserted) and an unstarred row's star button (on hover or focus, the only time it shows); and
    the hidden fields of the star forms (app.js posts the flag with the page's token)."""
    return bool(HtmxDetails(request))


@pass_context
def message_row(
    context: Context,
    m: MessageSummary,
    *,
    row_base: str,
    row_query: str,
    outgoing: bool,
    open_uid: int | None,
    tz: tzinfo,
    highlight_words: Sequence[str] = (),
) -> Markup:
    """``partials/_message_row.html`` for ``m`` in the list (not out of band)."""
    request = context["request"]
    today = datetime.now(UTC).astimezone(tz).date()
    lean = lean_markup(request)
    key = (
        m, row_base, row_query, outgoing, open_uid == m.uid, tuple(highlight_words), str(tz), today,
        request.scope.get("root_path", ""), lean,
    )  # fmt: skip
    row = rows.get(key)
    if row is None:
        values: dict[str, Any] = {
            "request": request, "m": m, "row_base": row_base, "row_query": row_query,
            "outgoing": outgoing, "open_uid": open_uid, "tz": tz, "highlight_words": list(highlight_words),
            "oob": False, "depth": 0, "thread_size": 0, "lean": lean,
        }  # fmt: skip
        row = Markup(context.environment.get_template(ROW_TEMPLATE).render(values))  # noqa: S704 - autoescaped template output
        rows.put(key, row)
    return row
