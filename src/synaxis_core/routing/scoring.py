"""The scorer contract and how scores combine.

A scorer is pure: ``score(request, candidate)`` looks only at its two arguments and
returns a finite float in ``[0, 1]``, higher is better. The router ranks healthy
candidates before unhealthy ones (whatever the scores say), then by
``sum(weight * score)`` over every registered scorer (weights from the scorer,
overridden by ``SYNAXIS_SCORER_WEIGHTS``), highest first, ties broken by deployment id.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

import msgspec


class RouteRequest(msgspec.Struct, kw_only=True, frozen=True):
    """What the router knows about a request when it ranks candidates."""

    model: str
    estimated_input_tokens: int = 0
    estimated_output_tokens: int = 256
    tenant: str | None = None
    stream: bool = False
    kind: str = "chat"
    """The kind of deployment the request needs (``ModelSpec.kind``): ``chat`` or ``embedding``."""


class Candidate(msgspec.Struct, kw_only=True, frozen=True):
    """One deployment that could serve a request, with its current health."""

    id: str
    provider: str
    upstream_id: str
    global_id: str | None = None
    input_price: float | None = None
    """USD per million input tokens (None: unknown)."""
    output_price: float | None = None
    is_premium: bool = False
    context_window: int | None = None
    p95_latency_ms: float | None = None
    """Recent p95 latency of this deployment (None: no data yet)."""
    consecutive_failures: int = 0
    healthy: bool = True
    """False while the deployment's provider is failing often (a high recent error
    ratio) without being cooled down yet. Deployments that are cooling down or disabled
    never reach the ranking at all."""


@runtime_checkable
class Scorer(Protocol):
    name: str
    weight: float

    def score(self, request: RouteRequest, candidate: Candidate) -> float: ...


ScorePairs = list[tuple[Callable[[RouteRequest, Candidate], float], float]]
"""Each scorer's bound ``score`` method with its effective weight."""


def score_pairs(scorers: Sequence[Scorer], weights: Mapping[str, float] | None = None) -> ScorePairs:
    """``(score, weight)`` per scorer, weights overridden by ``weights``: built once per router."""
    weights = weights or {}
    return [(scorer.score, weights.get(scorer.name, scorer.weight)) for scorer in scorers]


def order(request: RouteRequest, candidates: Sequence[Candidate], pairs: ScorePairs) -> list[int]:
    """The indices of ``candidates`` best first (the order :func:`rank` returns)."""
    keys = []
    for candidate in candidates:  # one loop, no per-request closure: this runs on every request
        total = 0.0
        for score, weight in pairs:
            total += weight * score(request, candidate)
        keys.append((not candidate.healthy, -total, candidate.id))
    return sorted(range(len(keys)), key=keys.__getitem__)


def rank(
    request: RouteRequest,
    candidates: Sequence[Candidate],
    scorers: Sequence[Scorer],
    weights: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """Candidates ordered best first: healthy first, then by weighted score, then by id."""
    return [candidates[i] for i in order(request, candidates, score_pairs(scorers, weights))]
