"""The built-in scorers and an outside scorer plugin pass the scorer conformance kit."""

from __future__ import annotations

import msgspec

from synaxis_core import hookimpl
from synaxis_core.default_plugins.scorers import CostScorer, HealthScorer, LatencyScorer, TierScorer
from synaxis_core.routing.scoring import Candidate, RouteRequest, rank
from synaxis_core.testing.plugin_manager import make_extensions
from synaxis_core.testing.scoring import ScorerConformanceTests, builtin_scorers

replace = msgspec.structs.replace


class TestCostScorer(ScorerConformanceTests):
    def make_scorer(self):
        return CostScorer()

    def improve(self, request, candidate):
        if candidate.input_price is None or candidate.output_price is None:
            return replace(candidate, input_price=1.0, output_price=1.0)
        return replace(candidate, input_price=candidate.input_price / 2, output_price=candidate.output_price / 2)


class TestTierScorer(ScorerConformanceTests):
    def make_scorer(self):
        return TierScorer()

    def improve(self, request, candidate):
        return replace(candidate, is_premium=False)


class TestLatencyScorer(ScorerConformanceTests):
    def make_scorer(self):
        return LatencyScorer()

    def improve(self, request, candidate):
        if candidate.p95_latency_ms is None:
            return None
        return replace(candidate, p95_latency_ms=candidate.p95_latency_ms / 2)


class TestHealthScorer(ScorerConformanceTests):
    def make_scorer(self):
        return HealthScorer()

    def improve(self, request, candidate):
        return replace(candidate, consecutive_failures=max(0, candidate.consecutive_failures - 1))


class PreferFreeScorer:
    """An outside plugin's scorer: free deployments first, whatever else."""

    name = "prefer-free"
    weight = 10_000_000.0

    def score(self, request, candidate):
        return 1.0 if candidate.input_price == 0 and candidate.output_price == 0 else 0.0


class PreferFreePlugin:
    @hookimpl
    def register_scorers(self, register, settings):
        register(PreferFreeScorer())


class TestPreferFreePlugin(ScorerConformanceTests):
    def make_scorer(self):
        (scorer,) = [s for s in make_extensions(PreferFreePlugin()).scorers.values() if s.name == "prefer-free"]
        return scorer

    def improve(self, request, candidate):
        return replace(candidate, input_price=0.0, output_price=0.0)


def cand(id: str, **kw) -> Candidate:
    return Candidate(id=id, provider="p", upstream_id=id, **kw)


REQUEST = RouteRequest(model="gpt-oss-120b", estimated_input_tokens=1000, estimated_output_tokens=256)


def test_register_scorers_default_order_is_cost_then_tier_then_latency():
    free_premium = cand("a", input_price=0.0, output_price=0.0, is_premium=True, p95_latency_ms=900.0)
    cheap_standard = cand("b", input_price=0.1, output_price=0.1, p95_latency_ms=10.0)
    cheap_premium_fast = cand("c", input_price=0.1, output_price=0.1, is_premium=True, p95_latency_ms=1.0)
    cheap_standard_slow = cand("d", input_price=0.1, output_price=0.1, p95_latency_ms=2000.0)
    ranked = rank(REQUEST, [cheap_standard_slow, cheap_premium_fast, cheap_standard, free_premium], builtin_scorers())
    assert [c.id for c in ranked] == ["a", "b", "d", "c"]


def test_ties_are_broken_by_id():
    ranked = rank(REQUEST, [cand("zeta", input_price=1.0, output_price=1.0), cand("alpha", input_price=1.0, output_price=1.0)], builtin_scorers())
    assert [c.id for c in ranked] == ["alpha", "zeta"]


def test_weights_from_settings_change_the_order():
    cheap_slow = cand("cheap", input_price=0.1, output_price=0.1, p95_latency_ms=5000.0)
    dear_fast = cand("fast", input_price=5.0, output_price=5.0, p95_latency_ms=10.0)
    assert rank(REQUEST, [dear_fast, cheap_slow], builtin_scorers())[0].id == "cheap"
    assert rank(REQUEST, [dear_fast, cheap_slow], builtin_scorers(), {"latency": 1e9})[0].id == "fast"


def test_an_outside_scorer_plugin_changes_the_choice():
    scorers = list(make_extensions(PreferFreePlugin()).scorers.values())
    free_but_slow = cand("free", input_price=0.0, output_price=0.0, p95_latency_ms=9000.0)
    paid = cand("paid", input_price=0.01, output_price=0.01)
    assert rank(REQUEST, [paid, free_but_slow], scorers)[0].id == "free"


class _Unbounded:
    name = "unbounded"
    weight = 1.0

    def score(self, request, candidate):
        return (candidate.p95_latency_ms or 0.0) * 10


class _LovesFailures:
    """Prefers candidates that fail: the kit's monotonicity test must catch it."""

    name = "loves-failures"
    weight = 1.0

    def score(self, request, candidate):
        return min(candidate.consecutive_failures, 10) / 10


def test_the_kit_catches_an_unbounded_scorer():
    class Kit(ScorerConformanceTests):
        def make_scorer(self):
            return _Unbounded()

    import pytest

    with pytest.raises(AssertionError):
        Kit().test_score_is_finite_and_between_0_and_1()


def test_the_kit_catches_a_scorer_that_is_not_monotone():
    class Kit(TestHealthScorer):
        def make_scorer(self):
            return _LovesFailures()

    import pytest

    with pytest.raises(AssertionError):
        Kit().test_score_is_monotone_in_what_it_measures()
