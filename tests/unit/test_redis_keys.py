from __future__ import annotations

import re
from pathlib import Path

import webmail
from webmail.redis import Keys

PACKAGE = Path(webmail.__file__).parent


def test_pop3_job_ids_are_apart_per_installation() -> None:
    """rq keeps job ids globally (rq:job:<id>): two installations on one Redis must not collide,
    or one's "Fetch now" is taken for the other's job that is already queued."""
    assert Keys("wm").pop3_job_id(1) != Keys("other").pop3_job_id(1)
    assert re.fullmatch(r"[\w-]+", Keys("site:a").pop3_job_id(7))


def test_key_names_stay_as_they_are() -> None:
    """Workers of two releases share Redis during a rolling upgrade: the names must not move.

    Keys take the canonical account name (``auth.usernames``; ``ann@x`` for a typed ``Ann@X``
    under the default folding), as the session holds it."""
    keys = Keys("wm")
    assert keys.session("abc") == "wm:sess:abc"
    assert keys.user_sessions("ann@x") == "wm:usess:ann@x"
    assert keys.login_failures_user("ann@x") == "wm:rl:u:ann@x"
    assert keys.login_failures_ip("10.0.0.1") == "wm:rl:ip:10.0.0.1"
    assert keys.close_connections_channel() == "wm:pool:close"
    assert keys.jobs_queue() == "wm:jobs"
    assert keys.pop3_lock(3) == "wm:pop3:lock:3"
    assert keys.pop3_progress(3) == "wm:pop3:progress:3"
    assert keys.pop3_metrics() == "wm:metrics:pop3"
    assert keys.connection_cap("ann@x") == "wm:cap:ann@x"
    assert keys.idle_connections("ann@x") == "wm:idle:ann@x"
    assert keys.connection_queue("ann@x") == "wm:capq:ann@x"
    assert keys.lease_holder("host:12:ab") == "wm:holder:host:12:ab"
    assert keys.handover_channel() == "wm:pool:handover"
    assert keys.grant_channel() == "wm:pool:grant"
    assert keys.events_channel("ann@x") == "wm:events:ann@x"
    assert keys.event_streams("ann@x") == "wm:streams:ann@x"
    assert keys.mailbox_state("ann@x") == "wm:state:ann@x"
    assert keys.watcher_lock("ann@x") == "wm:watch:ann@x"
    assert keys.page_index("ann@x") == "wm:pages:ann@x"
    assert re.fullmatch(
        r"wm:page:ann@x:[0-9a-f]{16}:7:42:[0-9a-f]{20}", keys.page("ann@x", "INBOX", 7, 42, "s")
    )
    assert keys.view_index("ann@x") == "wm:views:ann@x"
    assert re.fullmatch(
        r"wm:view:ann@x:[0-9a-f]{16}:7:42:[0-9a-f]{20}", keys.message_view("ann@x", "INBOX", 7, 42, "s")
    )


def test_keys_keep_the_case_of_canonical_names() -> None:
    """On a case-sensitive server Bob and bob are two accounts: nothing of theirs may share a key."""
    keys = Keys("wm")
    for kind in ("user_sessions", "login_failures_user", "connection_cap", "events_channel",
                 "event_streams", "mailbox_state", "watcher_lock", "page_index", "vacation_state",
                 "view_index"):  # fmt: skip
        assert getattr(keys, kind)("Bob@x") != getattr(keys, kind)("bob@x"), kind
    assert keys.page("Bob@x", "INBOX", 7, 42, "s") != keys.page("bob@x", "INBOX", 7, 42, "s")
    assert keys.message_view("Bob@x", "INBOX", 7, 42, "s") != keys.message_view("bob@x", "INBOX", 7, 42, "s")


def test_page_keys_differ_by_every_part() -> None:
    keys = Keys("wm")
    base = ("ann@x", "INBOX", 7, 42, "arrival:1")
    variants = [
        ("bob@x", "INBOX", 7, 42, "arrival:1"),
        ("ann@x", "Archive", 7, 42, "arrival:1"),
        ("ann@x", "INBOX", 8, 42, "arrival:1"),
        ("ann@x", "INBOX", 7, 43, "arrival:1"),
        ("ann@x", "INBOX", 7, 42, "arrival:2"),
    ]
    assert len({keys.page(*base), *(keys.page(*v) for v in variants)}) == 1 + len(variants)
    # Folder names and search text are hashed: no glob characters, separators or line breaks get in.
    assert re.fullmatch(
        r"wm:page:ann@x:[0-9a-f]+:1:1:[0-9a-f]+", keys.page("ann@x", "a:b*\r\n", 1, 1, "q: x*")
    )


def test_no_key_is_built_outside_keys() -> None:
    """Every Redis key and channel name comes from webmail.redis.Keys, so one place lists them all."""
    hand_made = re.compile(r"""f["'][^"']*\{[\w.]*prefix[\w.]*\}:""")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "redis.py" or path.parent != PACKAGE
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if hand_made.search(line)
    ]
    assert offenders == []
