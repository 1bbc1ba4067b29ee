"""Prometheus metrics, one registry per gateway (so tests can run several apps)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "synaxis_requests", "Chat-completion requests by outcome", ["model", "status"], registry=r
        )
        self.latency = Histogram(
            "synaxis_request_latency_seconds", "Request latency (to the last byte)", ["stream"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.attempts = Counter(
            "synaxis_upstream_attempts", "Upstream attempts by deployment and outcome",
            ["deployment", "provider", "outcome"], registry=r,
        )
        self.failovers = Counter("synaxis_failovers", "Requests served after at least one failed attempt", registry=r)
        self.tokens = Counter("synaxis_tokens", "Tokens by deployment and direction", ["deployment", "direction"], registry=r)
        self.cost = Counter("synaxis_cost_usd", "Cost in USD by deployment", ["deployment"], registry=r)
        self.disabled = Gauge("synaxis_disabled_deployments", "Deployments currently disabled", registry=r)
        self.disables = Counter(
            "synaxis_deployment_disables", "Deployments disabled by health checks", ["deployment"], registry=r
        )
        self.ledger_pending = Gauge("synaxis_ledger_pending", "Usage records waiting to be written", registry=r)
        self.state_errors = Counter(
            "synaxis_state_backend_errors", "Calls to Redis that failed and were served from process memory",
            registry=r,
        )
        self.state_degraded = Gauge(
            "synaxis_state_backend_degraded", "1 while Redis is unreachable and state is kept in process", registry=r
        )

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per label set (``labels()`` is slow).

        Label values come only from the registry (deployment ids, providers, outcomes),
        never from what a client sent, so the number of series stays bounded.
        """
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)
