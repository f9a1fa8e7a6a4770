"""Prometheus metrics of sending (multiprocess-safe when PROMETHEUS_MULTIPROC_DIR is set)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SMTP_LATENCY = Histogram(
    "webmail_smtp_send_seconds",
    "Time to submit one message: connect, TLS, AUTH and the transaction",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SMTP_ERRORS = Counter("webmail_smtp_errors_total", "Failed submissions by kind", ["kind"])
