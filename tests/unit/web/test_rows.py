from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from webmail.imap.types import Address, MessageSummary
from webmail.web import rows
from webmail.web.templating import templates

REQUEST = SimpleNamespace(scope={"root_path": "/webmail"}, headers={})
HTMX = SimpleNamespace(scope={"root_path": "/webmail"}, headers={"HX-Request": "true"})
INCLUDED = '{% with depth = 0, thread_size = 0, oob = False %}{% include "partials/_message_row.html" %}{% endwith %}'
CACHED = (
    "{{ message_row(m, row_base=row_base, row_query=row_query, outgoing=outgoing, open_uid=open_uid,"
    " tz=tz, highlight_words=highlight_words) }}"
)


def summary(uid: int = 7, **changes: object) -> MessageSummary:
    m = MessageSummary(
        uid=uid, subject="Lunch <b>on</b> Friday", from_=(Address("Ann O'Neil", "ann@example.org"),),
        to=(Address("", "me@example.org"),), cc=(), date=datetime.now(UTC) - timedelta(hours=1),
        internaldate=datetime.now(UTC), size=1234, flags=frozenset({"\\Seen", "$label1"}),
        has_attachment=True, message_id="<a@b>", in_reply_to=None, preview="See you & the team",
    )  # fmt: skip
    return replace(m, **changes)  # type: ignore[arg-type]


def render(template: str, m: MessageSummary, **overrides: object) -> str:
    context: dict[str, object] = {
        "request": REQUEST, "m": m, "row_base": "/webmail/mail/INBOX", "row_query": "?uv=9",
        "outgoing": False, "open_uid": None, "tz": ZoneInfo("Europe/Berlin"), "highlight_words": [],
    }  # fmt: skip
    context.update(overrides)
    return templates.env.from_string(template).render(context)


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    rows.rows = rows.RowCache()


@pytest.mark.parametrize(
    ("m", "overrides"),
    [
        (summary(), {}),
        (summary(flags=frozenset()), {"open_uid": 7}),
        (summary(flags=frozenset({"\\Flagged", "\\Answered"})), {"outgoing": True}),
        (summary(), {"highlight_words": ["lunch"], "row_query": "?uv=9&q=lunch"}),
        (summary(subject="", from_=(), preview=""), {"tz": ZoneInfo("UTC")}),
    ],
)
def test_a_cached_row_is_exactly_the_included_template(
    m: MessageSummary, overrides: dict[str, object]
) -> None:
    expected = render(INCLUDED, m, **overrides)
    assert render(CACHED, m, **overrides) == expected  # rendered
    assert render(CACHED, m, **overrides) == expected  # from the cache
    assert len(rows.rows) == 1


def test_anything_the_row_shows_changes_its_key() -> None:
    base = summary()
    variants = [
        render(CACHED, base),
        render(CACHED, replace(base, flags=frozenset())),  # read → unread
        render(CACHED, replace(base, subject="Other")),
        render(CACHED, base, open_uid=7),
        render(CACHED, base, outgoing=True),
        render(CACHED, base, highlight_words=["friday"]),
        render(CACHED, base, tz=ZoneInfo("Pacific/Auckland")),
        render(CACHED, base, row_base="/webmail/mail/Archive"),
    ]
    assert len(set(variants)) == len(variants)
    assert len(rows.rows) == len(variants)
    assert "unseen" in variants[1]
    assert "unseen" not in variants[0]
    assert "&lt;b&gt;on&lt;/b&gt;" in variants[0]  # still autoescaped


def test_htmx_gets_the_lean_row_under_its_own_key() -> None:
    """Asked by htmx (JavaScript on), a row comes without its checkbox and its subject's id, which
    labels it (app.js adds both as the row is inserted) and, unstarred, without its star button
    (app.js adds it on hover or focus); a page load, maybe without JavaScript, has them all; a
    starred row always has its star."""
    unstarred, starred = summary(), summary(flags=frozenset({"\\Seen", "\\Flagged"}))
    page = render(CACHED, unstarred)
    lean = render(CACHED, unstarred, request=HTMX)
    box = '<input type="checkbox" class="select" name="uid" value="7" form="bulk-form" aria-labelledby="sel-label sub-7">'
    star = '<button form="row-star" name="uid" value="7" class="star" title="Star" aria-pressed="false"></button>'
    label = ' id="sub-7"'
    assert box in page
    assert star in page
    assert label in page
    assert page.replace(box, "").replace(star, "").replace(label, "") == lean
    assert len(rows.rows) == 2
    lean_starred = render(CACHED, starred, request=HTMX)
    assert 'class="star" title="Remove the star" aria-pressed="true"' in lean_starred
    assert 'type="checkbox"' not in lean_starred
    assert render(CACHED, unstarred) == page  # each from its own entry
    assert render(CACHED, unstarred, request=HTMX) == lean
    assert len(rows.rows) == 3


def test_the_cache_keeps_only_the_most_recent_rows() -> None:
    rows.rows = rows.RowCache(max_rows=3)
    for uid in range(1, 6):
        render(CACHED, summary(uid))
    assert len(rows.rows) == 3
    render(CACHED, summary(5))
    assert len(rows.rows) == 3
