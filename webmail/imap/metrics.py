"""Prometheus metrics of the IMAP layer (multiprocess-safe when PROMETHEUS_MULTIPROC_DIR is set)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

IMAP_LATENCY = Histogram(
    "webmail_imap_operation_seconds",
    "Time of one IMAP operation (one or more commands) on a pooled connection",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IMAP_ERRORS = Counter(
    "webmail_imap_errors_total",
    "IMAP failures by kind (UnavailableError: connection refused, dropped or timed out)",
    ["kind"],
)
CONNECTIONS_OPENED = Counter("webmail_imap_connections_opened_total", "IMAP connections opened (LOGIN)")
CAP_WAITS = Counter("webmail_imap_cap_waits_total", "Requests that had to wait for a free connection")
CAP_TIMEOUTS = Counter("webmail_imap_cap_timeouts_total", "Requests answered 'mailbox busy' after waiting")
HANDOVERS_REQUESTED = Counter(
    "webmail_imap_handovers_requested_total",
    "Requests that queued for a connection because the user's cap was full",
    ["priority"],
)
HANDOVERS_GRANTED = Counter(
    "webmail_imap_handovers_granted_total",
    "Queued requests that were given a slot (handed over or freed)",
    ["priority"],
)
HANDOVERS_GIVEN = Counter(
    "webmail_imap_handovers_given_total",
    "Pooled connections closed so that a request waiting elsewhere could have their slot",
)
HANDOVER_WAIT = Histogram(
    "webmail_imap_handover_wait_seconds",
    "From queueing for a connection to holding its slot (the LOGIN that follows not included)",
    ["priority"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE_HITS = Counter("webmail_cache_hits_total", "Message-list and folder-list cache hits", ["kind"])
CACHE_MISSES = Counter("webmail_cache_misses_total", "Message-list and folder-list cache misses", ["kind"])
POOL_CONNECTIONS = Gauge(
    "webmail_imap_pool_connections", "Open pooled IMAP connections", multiprocess_mode="livesum"
)
POOL_USERS = Gauge(
    "webmail_imap_pool_users", "Users with pooled IMAP connections", multiprocess_mode="livesum"
)
