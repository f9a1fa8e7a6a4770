"""POP3 metrics. Fetches run in short-lived rq work-horses, so their counters live in one Redis
hash (``wm:metrics:pop3``) that ``/metrics`` turns into Prometheus counters."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class _RedisCounters(Collector):
    def __init__(self, values: Mapping[bytes | str, bytes | str]) -> None:
        self.values = {_text(key): float(value) for key, value in values.items()}

    def collect(self) -> Iterator[CounterMetricFamily]:
        runs = CounterMetricFamily("webmail_pop3_runs", "POP3 fetch runs by outcome", labels=["outcome"])
        errors = CounterMetricFamily("webmail_pop3_errors", "Failed POP3 fetch runs by kind", labels=["kind"])
        for outcome in ("ok", "more", "error"):
            runs.add_metric([outcome], self.values.get(f"runs:{outcome}", 0))
        for key, value in sorted(self.values.items()):
            if key.startswith("errors:"):
                errors.add_metric([key.removeprefix("errors:")], value)
        yield runs
        yield errors
        yield CounterMetricFamily(
            "webmail_pop3_messages",
            "Messages imported from POP3 accounts",
            value=self.values.get("messages", 0),
        )
        yield CounterMetricFamily(
            "webmail_pop3_bytes", "Bytes fetched from POP3 accounts", value=self.values.get("bytes", 0)
        )
        yield CounterMetricFamily(
            "webmail_pop3_run_seconds",
            "Time spent in POP3 fetch runs (divided by the runs: their average length)",
            value=self.values.get("seconds", 0),
        )


def exposition(values: Mapping[bytes | str, bytes | str]) -> bytes:
    registry = CollectorRegistry()
    registry.register(_RedisCounters(values))
    return generate_latest(registry)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
