"""The built-in routing scorers: cost, tier, latency, health.

Default weights (cost 1,000,000, tier 1,000, latency 1, health 0.01) make the order
effectively lexicographic: cost first, tier second, latency third, health last. Change
it with ``SYNAXIS_SCORER_WEIGHTS``, e.g. ``'{"latency": 5000000}'`` for latency first.
"""

from __future__ import annotations

from synaxis_core.hookspecs import hookimpl
from synaxis_core.routing.scoring import Candidate, RouteRequest


class CostScorer:
    """Cheaper is better: the effective price of *this* request (estimated input and output).

    ``1 / (1 + cents)``: a free deployment scores 1.0, one costing a cent 0.5. A
    deployment with unknown prices scores 0: it is never preferred to a priced one.
    """

    name = "cost"
    weight = 1_000_000.0

    def score(self, request: RouteRequest, candidate: Candidate) -> float:
        if candidate.input_price is None or candidate.output_price is None:
            return 0.0
        usd = (
            request.estimated_input_tokens * candidate.input_price
            + request.estimated_output_tokens * candidate.output_price
        ) / 1_000_000
        return 1.0 / (1.0 + max(usd, 0.0) * 100.0)


class TierScorer:
    """Standard tier before premium (premium requests cost more of a subscription's quota)."""

    name = "tier"
    weight = 1_000.0

    def score(self, request: RouteRequest, candidate: Candidate) -> float:
        return 0.0 if candidate.is_premium else 1.0


class LatencyScorer:
    """Faster is better: ``1 / (1 + p95 seconds)``; no data yet scores a neutral 0.5."""

    name = "latency"
    weight = 1.0

    def score(self, request: RouteRequest, candidate: Candidate) -> float:
        if candidate.p95_latency_ms is None:
            return 0.5
        return 1.0 / (1.0 + max(candidate.p95_latency_ms, 0.0) / 1000.0)


class HealthScorer:
    """Fewer recent consecutive failures is better (within healthy candidates)."""

    name = "health"
    weight = 0.01

    def score(self, request: RouteRequest, candidate: Candidate) -> float:
        if not candidate.healthy:
            return 0.0
        return 1.0 / (1.0 + max(candidate.consecutive_failures, 0))


@hookimpl(trylast=True)
def register_scorers(register, settings):  # type: ignore[no-untyped-def]
    for scorer in (CostScorer(), TierScorer(), LatencyScorer(), HealthScorer()):
        register(scorer)
