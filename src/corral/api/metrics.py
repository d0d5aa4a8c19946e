"""Prometheus metrics of the decision API (prometheus_client, one registry per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from corral.model.decisions import Decision

# Decisions take tens of microseconds to a few milliseconds; the buckets resolve that range.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
