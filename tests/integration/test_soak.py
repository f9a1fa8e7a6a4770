"""The soak of bench/soak.py for one minute (issue 21): fewer users than the bench's 200, the same
mix against real `webmail serve` workers, each user with its live-update stream open throughout.
Its own Dovecot and Redis, so the Redis client count is the app's alone."""

from __future__ import annotations

from pathlib import Path

from bench.soak import SoakConfig, run_soak
from tests.cluster import CAP
from webmail.devservices import DevServices

CONFIG = SoakConfig(users=12, seconds=60, workers=2, messages=40, think_seconds=1.0, sample_seconds=3)


def test_a_minute_of_mixed_load_without_errors_leaks_or_passing_the_cap(tmp_path: Path) -> None:
    # Dovecot's own per-user limit far above the app's cap: only the app's cap is measured.
    with DevServices(max_userip_connections=50) as services:
        report = run_soak(
            services, CONFIG, tmp_path, extra={"WEBMAIL_IMAP_MAX_CONNECTIONS_PER_USER": str(CAP)}
        )
    report.print()
    assert report.requests >= CONFIG.users * 20  # each user did a good share of the mix
    assert set(report.latencies) == {"list", "page2", "open", "search", "flag", "move", "compose"}
    assert report.error_count == 0, report.errors
    assert not report.refusals, report.refusals
    assert report.streams_opened >= CONFIG.users  # one each (more if one ended and was reopened)
    assert report.streams_refused == 0
    assert report.events > 0
    settled = report.settled()
    assert len(settled) >= 10
    first, last = settled[0], settled[-1]
    # Caches and pools fill in the first quarter; after it, memory stays within a few percent.
    assert last.rss_kib <= first.rss_kib * 1.15, [s.rss_kib for s in report.samples]
    assert max(s.redis_clients for s in settled) <= first.redis_clients + 5, [
        s.redis_clients for s in report.samples
    ]
    assert 1 <= report.max_imap_per_user() <= CAP
