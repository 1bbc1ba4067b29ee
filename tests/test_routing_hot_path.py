"""The per-request shortcuts of routing and limits change nothing a request can observe.

Each test pins one shortcut against the behaviour it must keep: the ranking order, the
ranking following latency from one request to the next, the "nothing cooling" check of the in-process backend, the cached month of spend keys, and
a tenant without guardrails.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synaxis_core.errors import NoCandidates
from synaxis_core.limits import tenant as tenant_module
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.limits.tenant import TenantGate, month_key
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.routing.health import HealthTracker
from synaxis_core.routing.router import Router
from synaxis_core.routing.scoring import RouteRequest, rank
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.settings import Settings
from synaxis_core.tenants import TenantInfo
from synaxis_core.testing.scoring import builtin_scorers
from synaxis_core.testing.strategies import candidate_lists, route_requests
from synaxis_core.types import ModelSpec

SETTINGS = Settings.from_env({"SYNAXIS_LOAD_PLUGINS": ""})
REQUEST = RouteRequest(model="g", estimated_input_tokens=10)


def make_router(backend: MemoryBackend | None = None) -> tuple[Router, list[Deployment]]:
    deployments = []
    for name in ("a", "b"):
        provider = OpenAICompatibleProvider(SETTINGS, name=f"p{name}", base_url="http://127.0.0.1/v1")
        spec = ModelSpec(id=f"g-{name}", upstream_id="org/g", global_id="g", input_price=1.0, output_price=1.0)
        deployments.append(Deployment(id=spec.id, provider=provider, spec=spec))
    backend = backend if backend is not None else MemoryBackend()
    health = HealthTracker(backend, SETTINGS)
    return Router(RoutingTable(deployments), builtin_scorers(), health, backend), deployments


@given(request=route_requests(), found=candidate_lists(min_size=1), weights=st.sampled_from([{}, {"latency": 1e9}]))
def test_rank_orders_as_a_stable_sort_on_health_score_and_id(request, found, weights):
    pairs = [(s.score, weights.get(s.name, s.weight)) for s in builtin_scorers()]

    def key(c):  # the ranking rule as documented in scoring.py
        return (not c.healthy, -sum(w * score(request, c) for score, w in pairs), c.id)

    expected = sorted(found, key=key)
    assert [c.id for c in rank(request, found, builtin_scorers(), weights)] == [c.id for c in expected]


async def test_ranking_follows_latency_changes_between_requests():
    router, (a, b) = make_router()
    health = router.health
    for _ in range(20):
        await health.success(a, 2000.0)
        await health.success(b, 10.0)
    assert await router.plan(REQUEST) == [b, a]  # same price and tier: the faster first
    assert await router.plan(REQUEST) == [b, a]
    for _ in range(200):  # b turns slow: its p95 moves
        await health.success(b, 5000.0)
    assert await router.plan(REQUEST) == [a, b]


async def test_cooldowns_are_seen_whether_or_not_any_is_recorded():
    backend = MemoryBackend()
    router, (a, b) = make_router(backend)
    assert not backend.has_cooldowns()
    assert await router.health.cooldowns([a, b]) == {}
    await backend.set_cooldown(b.cooldown_keys[1], 60, "provider down")
    assert backend.has_cooldowns()
    cooling = await router.health.cooldowns([a, b])
    assert list(cooling) == [b.cooldown_keys[1]] and cooling[b.cooldown_keys[1]][1] == "provider down"
    assert await router.plan(REQUEST) == [a]
    await backend.set_cooldown(a.cooldown_keys[0], 60, "rate limited")
    with pytest.raises(NoCandidates, match="cooling down for 60s \\(rate limited\\).*provider down"):
        await router.plan(REQUEST)
    await backend.clear_cooldown(a.cooldown_keys[0])
    await backend.clear_cooldown(b.cooldown_keys[1])
    assert not backend.has_cooldowns() and await router.plan(REQUEST) == [a, b]


async def test_a_memory_backend_subclass_is_always_asked():
    class Shared(MemoryBackend):  # stands for a backend other instances write to
        async def get_cooldowns(self, keys):
            return {keys[0]: (5.0, "set elsewhere")}

    router, (a, b) = make_router(Shared())
    assert await router.plan(REQUEST) == [b]


def test_the_month_key_follows_the_clock_across_month_ends(monkeypatch):
    now = [datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc)]

    class Clock:
        @staticmethod
        def time() -> float:
            return now[0].timestamp()

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return now[0].astimezone(tz)

    monkeypatch.setattr(tenant_module, "time", Clock)
    monkeypatch.setattr(tenant_module, "datetime", FrozenDatetime)
    monkeypatch.setattr(tenant_module, "_this_month", ("", 0.0, 0.0))
    assert month_key() == month_key() == "2025-12"
    now[0] = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert month_key() == "2026-01"
    now[0] = datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc)  # the wall clock stepped back
    assert month_key() == "2025-12"
    now[0] = datetime(2026, 2, 28, 12, tzinfo=timezone.utc)
    assert month_key() == "2026-02" and TenantGate.spend_key(7, "*") == "spend:7:2026-02:*"


def test_the_month_key_is_the_current_utc_month():
    assert month_key() == datetime.now(timezone.utc).strftime("%Y-%m")
    assert month_key(datetime(2024, 3, 9)) == "2024-03"


async def test_a_tenant_without_guardrails_is_admitted_without_counting():
    backend = MemoryBackend()
    gate = TenantGate(backend)
    free = TenantInfo(id=1, name="free")
    assert await gate.admit(free, "g", 100) == []
    await gate.spend(free, [], 1.0)
    assert backend.key_count() == 0


async def test_try_acquire_checks_arguments_in_the_same_order():
    backend = MemoryBackend()
    with pytest.raises(ValueError, match="amount must be >= 0"):
        await backend.try_acquire("k", 10, amount=-1)
    with pytest.raises(ValueError, match="window_s must be > 0"):
        await backend.try_acquire("k", 10, amount=0, window_s=0)
    with pytest.raises(ValueError, match="window_s must be > 0"):
        await backend.record_outcome("k", True, window_s=-1)
    assert await backend.try_acquire("k", -1, amount=0) == 60.0  # over a negative limit, even for 0
    assert await backend.try_acquire("k", 10, amount=0) is None and backend.key_count() == 0
