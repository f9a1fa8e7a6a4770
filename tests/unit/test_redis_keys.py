from __future__ import annotations

import re

from webmail.redis import Keys


def test_pop3_job_ids_are_apart_per_installation() -> None:
    """rq keeps job ids globally (rq:job:<id>): two installations on one Redis must not collide,
    or one's "Fetch now" is taken for the other's job that is already queued."""
    assert Keys("wm").pop3_job_id(1) != Keys("other").pop3_job_id(1)
    assert re.fullmatch(r"[\w-]+", Keys("site:a").pop3_job_id(7))
