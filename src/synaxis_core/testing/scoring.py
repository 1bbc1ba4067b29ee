"""``ScorerConformanceTests``: the standard tests every routing scorer must pass.

A scorer plugin subclasses it in a few lines::

    class TestPreferFree(ScorerConformanceTests):
        def make_scorer(self):
            return PreferFreeScorer()

        def improve(self, request, candidate):   # optional: a strictly better candidate
            return msgspec.structs.replace(candidate, input_price=0.0, output_price=0.0)

It checks, with hypothesis: scores are finite and in ``[0, 1]``; deterministic; the
ranking with the built-in scorers plus this one does not depend on the order the
candidates come in; the score never drops when ``improve`` makes a candidate better in
what the scorer measures; and an unhealthy candidate never wins while a healthy one
exists.
"""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synaxis_core.routing.scoring import Candidate, RouteRequest, Scorer, rank
from synaxis_core.testing.strategies import candidate_lists, candidates, route_requests


# Each subclass runs the same test methods (a different "executor" to hypothesis); the
# scorer is built inside every example, so nothing is shared between them.
_KIT = {"deadline": None, "suppress_health_check": [HealthCheck.differing_executors]}


def builtin_scorers() -> list[Scorer]:
    from synaxis_core.default_plugins.scorers import CostScorer, HealthScorer, LatencyScorer, TierScorer

    return [CostScorer(), TierScorer(), LatencyScorer(), HealthScorer()]


class ScorerConformanceTests:
    def make_scorer(self) -> Scorer:
        raise NotImplementedError("return the scorer under test")

    def improve(self, request: RouteRequest, candidate: Candidate) -> Candidate | None:
        """A candidate strictly better in what the scorer measures, or None (no such test)."""
        return None

    def _scorers(self) -> list[Scorer]:
        mine = self.make_scorer()
        return [s for s in builtin_scorers() if s.name != mine.name] + [mine]

    def test_scorer_has_a_name_and_a_finite_weight(self) -> None:
        scorer = self.make_scorer()
        assert isinstance(scorer, Scorer)
        assert isinstance(scorer.name, str) and scorer.name
        assert math.isfinite(scorer.weight) and scorer.weight >= 0

    @settings(max_examples=60, **_KIT)
    @given(request=route_requests(), candidate=candidates())
    def test_score_is_finite_and_between_0_and_1(self, request: RouteRequest, candidate: Candidate) -> None:
        score = self.make_scorer().score(request, candidate)
        assert isinstance(score, float | int) and math.isfinite(score) and 0.0 <= score <= 1.0

    @settings(max_examples=60, **_KIT)
    @given(request=route_requests(), candidate=candidates())
    def test_score_is_deterministic(self, request: RouteRequest, candidate: Candidate) -> None:
        scorer = self.make_scorer()
        assert scorer.score(request, candidate) == scorer.score(request, candidate)
        assert self.make_scorer().score(request, candidate) == scorer.score(request, candidate)

    @settings(max_examples=60, **_KIT)
    @given(request=route_requests(), found=candidate_lists(min_size=2), seed=st.integers(0, 2**32 - 1))
    def test_ranking_does_not_depend_on_input_order(self, request: RouteRequest, found: list[Candidate], seed: int) -> None:
        scorers = self._scorers()
        shuffled = list(found)
        random.Random(seed).shuffle(shuffled)
        assert [c.id for c in rank(request, found, scorers)] == [c.id for c in rank(request, shuffled, scorers)]

    @settings(max_examples=60, **_KIT)
    @given(request=route_requests(), candidate=candidates())
    def test_score_is_monotone_in_what_it_measures(self, request: RouteRequest, candidate: Candidate) -> None:
        better = self.improve(request, candidate)
        if better is None:
            return
        scorer = self.make_scorer()
        assert scorer.score(request, better) >= scorer.score(request, candidate)

    @settings(max_examples=60, **_KIT)
    @given(request=route_requests(), found=candidate_lists(min_size=2))
    def test_an_unhealthy_candidate_never_wins_while_a_healthy_one_exists(
        self, request: RouteRequest, found: list[Candidate]
    ) -> None:
        if not any(c.healthy for c in found):
            return
        assert rank(request, found, self._scorers())[0].healthy
