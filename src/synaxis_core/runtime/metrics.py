"""Prometheus metrics, one registry per gateway (so tests can run several apps).

The per-request metrics (requests, latency, attempts, failovers, tokens, cost) are
plain numbers in dicts, bumped on the event loop and turned into Prometheus samples
only when ``/metrics`` is scraped (``_HotCollector``): prometheus_client's own
``labels(...).inc()`` takes a lock and checks its arguments each time, 3.7 µs for a
request's seven updates against ~1 µs here. The rare ones (disables, Redis errors)
use prometheus_client's classes. Label values come only from the registry (deployment
ids, providers, outcomes), never from what a client sent, so series stay bounded.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

Labels = tuple[str, ...]


class HotCounter:
    """A labelled counter for the event loop: ``add(labels, amount)``, no lock."""

    __slots__ = ("name", "doc", "labelnames", "values")

    def __init__(self, name: str, doc: str, labelnames: Labels = ()) -> None:
        self.name, self.doc, self.labelnames = name, doc, labelnames
        self.values: dict[Labels, float] = {} if labelnames else {(): 0.0}

    def add(self, labels: Labels = (), amount: float = 1.0) -> None:
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount

    def collect(self) -> Metric:
        family = CounterMetricFamily(self.name, self.doc, labels=self.labelnames)
        for labels, value in self.values.items():
            family.add_metric(labels, value)
        return family


class HotHistogram:
    """A labelled histogram for the event loop: ``observe(labels, value)``, no lock."""

    __slots__ = ("name", "doc", "labelnames", "buckets", "series")

    def __init__(self, name: str, doc: str, labelnames: Labels, buckets: tuple[float, ...]) -> None:
        self.name, self.doc, self.labelnames, self.buckets = name, doc, labelnames, buckets
        self.series: dict[Labels, list[float]] = {}
        """Per label set: a count per bucket (the last is +Inf), then the sum."""

    def observe(self, labels: Labels, value: float) -> None:
        counts = self.series.get(labels)
        if counts is None:
            counts = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        counts[bisect_left(self.buckets, value)] += 1
        counts[-1] += value

    def collect(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labelnames)
        for labels, counts in self.series.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip((*map(floatToGoString, self.buckets), "+Inf"), counts):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(labels, buckets, counts[-1])
        return family


class _HotCollector(Collector):
    def __init__(self, metrics: list[HotCounter | HotHistogram]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.collect()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = HotCounter(
            "synaxis_requests", "Requests by served model, outcome and API dialect", ("model", "status", "dialect")
        )
        self.latency = HotHistogram(
            "synaxis_request_latency_seconds", "Request latency (to the last byte)", ("stream",), LATENCY_BUCKETS
        )
        self.attempts = HotCounter(
            "synaxis_upstream_attempts", "Upstream attempts by deployment and outcome",
            ("deployment", "provider", "outcome"),
        )
        self.failovers = HotCounter("synaxis_failovers", "Requests served after at least one failed attempt")
        self.tokens = HotCounter("synaxis_tokens", "Tokens by deployment and direction", ("deployment", "direction"))
        self.cost = HotCounter("synaxis_cost_usd", "Cost in USD by deployment", ("deployment",))
        self.cache = HotCounter(
            "synaxis_cache_lookups", "Response-cache lookups by result (hit, miss)", ("result",)
        )
        self.cache_bytes = HotCounter(
            "synaxis_cache_bytes", "Bytes of cached answers served (hit) and stored (store)", ("op",)
        )
        self.cache_saved = HotCounter("synaxis_cache_saved_usd", "USD not spent upstream thanks to cache hits")
        r.register(_HotCollector([
            self.requests, self.latency, self.attempts, self.failovers, self.tokens, self.cost,
            self.cache, self.cache_bytes, self.cache_saved,
        ]))
        self.cache_errors = Counter(
            "synaxis_cache_errors", "Response-cache calls to Redis that failed (each one a miss)", registry=r
        )
        self.disabled = Gauge("synaxis_disabled_deployments", "Deployments currently disabled", registry=r)
        self.disables = Counter(
            "synaxis_deployment_disables", "Deployments disabled by health checks", ["deployment"], registry=r
        )
        self.ledger_pending = Gauge(
            "synaxis_ledger_pending", "Usage records waiting to be written (set when scraped)", registry=r
        )
        self.ledger_errors = Counter(
            "synaxis_ledger_write_errors", "Ledger flushes that failed (retried until they succeed)", registry=r
        )
        self.auth_throttled = Counter(
            "synaxis_auth_failures", "Failed admin authentications, by what happened", ["outcome"], registry=r
        )
        self.state_errors = Counter(
            "synaxis_state_backend_errors", "Calls to Redis that failed and were served from process memory",
            registry=r,
        )
        self.observer_records = Counter(
            "synaxis_observer_records", "Finished requests handed to each observer, by outcome (delivered; "
            "failed: in a batch whose call failed; dropped: its queue was full, or shutdown came first)",
            ["observer", "outcome"], registry=r,
        )
        self.observer_failures = Counter(
            "synaxis_observer_failures", "Observer calls that failed, by reason (error, timeout)",
            ["observer", "reason"], registry=r,
        )
        self.state_degraded = Gauge(
            "synaxis_state_backend_degraded", "1 while Redis is unreachable and state is kept in process", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
