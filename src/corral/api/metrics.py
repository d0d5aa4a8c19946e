"""Prometheus metrics of the decision API (prometheus_client, one registry per app)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from corral.model.decisions import Decision

SinkStats = Callable[[], dict[str, dict[str, int]]]

# Decisions take tens of microseconds to a few milliseconds; the buckets resolve that range.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class AlertSinkCollector(Collector):
    """The session layer's alert sinks, read at scrape time: alerts sent, dropped, failed tries.

    A sink drops an alert when its queue is full or every retry failed; a SIEM that silently
    stops hearing of violations is what an operator most needs to see here.
    """

    def __init__(self, stats: SinkStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        families = {
            key: CounterMetricFamily(f"corral_alert_sink_{key}", help_text, labels=["sink"])
            for key, help_text in (
                ("sent", "Alerts an alert sink delivered."),
                ("dropped", "Alerts an alert sink gave up on (queue full or retries spent)."),
                ("errors", "Failed delivery attempts of an alert sink."),
            )
        }
        for sink, counts in sorted(self.stats().items()):
            for key, family in families.items():
                family.add_metric([_public(sink)], counts.get(key, 0))
        yield from families.values()


def _public(sink: str) -> str:
    """A sink's name without what a URL may carry in secret (user:password@, ?token=...)."""
    kind, sep, url = sink.partition(":")
    if not sep or "://" not in url:
        return sink
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:  # a malformed port: leave it out rather than fail the scrape
        port = None
    if port is not None:
        netloc += f":{port}"
    return f"{kind}:{urlunsplit((parts.scheme, netloc, parts.path, '', ''))}"


class ApiMetrics:
    def __init__(self, sink_stats: SinkStats | None = None) -> None:
        self.registry = CollectorRegistry()
        if sink_stats is not None:
            self.registry.register(AlertSinkCollector(sink_stats))
        self.decisions = Counter(
            "corral_decisions",
            "Decisions made, by verdict and by the rule that matched ('none' when none did).",
            ["decision", "rule"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "corral_decision_seconds",
            "Time to judge one action.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "corral_api_errors",
            "Requests answered with an error, by error code.",
            ["code"],
            registry=self.registry,
        )

    def observe(self, decision: Decision, seconds: float) -> None:
        self.latency.observe(seconds)
        rules = [rule.id for rule in decision.rules] or ["none"]
        for rule in rules:
            self.decisions.labels(decision.decision, rule).inc()

    def error(self, code: str) -> None:
        self.errors.labels(code).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
