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
    """Workers of two releases share Redis during a rolling upgrade: the names must not move."""
    keys = Keys("wm")
    assert keys.session("abc") == "wm:sess:abc"
    assert keys.user_sessions("Ann@X") == "wm:usess:ann@x"
    assert keys.login_failures_user("Ann@X") == "wm:rl:u:ann@x"
    assert keys.login_failures_ip("10.0.0.1") == "wm:rl:ip:10.0.0.1"
    assert keys.close_connections_channel() == "wm:pool:close"
    assert keys.jobs_queue() == "wm:jobs"
    assert keys.pop3_lock(3) == "wm:pop3:lock:3"
    assert keys.pop3_progress(3) == "wm:pop3:progress:3"
    assert keys.pop3_metrics() == "wm:metrics:pop3"
    assert keys.connection_cap("Ann@X") == "wm:cap:ann@x"
    assert keys.events_channel("Ann@X") == "wm:events:ann@x"
    assert keys.event_streams("Ann@X") == "wm:streams:ann@x"
    assert keys.mailbox_state("Ann@X") == "wm:state:ann@x"
    assert keys.watcher_lock("Ann@X") == "wm:watch:ann@x"
    assert keys.page_index("Ann@X") == "wm:pages:ann@x"
    assert re.fullmatch(
        r"wm:page:ann@x:[0-9a-f]{16}:7:42:[0-9a-f]{20}", keys.page("Ann@X", "INBOX", 7, 42, "s")
    )


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
