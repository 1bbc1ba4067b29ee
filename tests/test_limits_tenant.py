"""Tenant guardrails at the gate: limits bind to what a request resolves to; budgets reserve
the worst case, so concurrent requests cannot overshoot them. Memory and the local Redis."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from synaxis_core.errors import QuotaExceeded, RateLimitExceeded
from synaxis_core.ledger.cost import UNKNOWN_MAX_OUTPUT_TOKENS, worst_case_cost
from synaxis_core.ledger.writer import LedgerWriter, UsageEntry
from synaxis_core.limits.fallback import StateBusy
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.limits.redis import RedisBackend
from synaxis_core.limits.tenant import NO_RESERVATION, TenantGate, resolved_names
from synaxis_core.tenants import AuthSnapshot, Limit, TenantInfo


@dataclass
class Spec:
    """What ``worst_case_cost`` reads of a deployment (like ``ModelSpec``)."""

    input_price: float | None = None
    output_price: float | None = None
    max_output: int | None = None
    context_window: int | None = None


@dataclass
class Candidate:
    """What ``resolved_names`` reads of a deployment (like routing's ``Deployment``)."""

    id: str
    upstream_id: str
    global_id: str | None = None


PRICEY = Candidate(id="adv-pricey", upstream_id="hf:adv/Pricey-1", global_id="pricey-1")
TEN_DOLLARS = Spec(input_price=10.0, output_price=1000.0)
"""1,000 prompt tokens and 10,000 output tokens: $0.01 + $10.00 = $10.01."""


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request):
    if request.param == "memory":
        yield MemoryBackend()
        return
    redis_backend = RedisBackend.from_url(request.getfixturevalue("redis_url"), prefix=f"synaxis-test:{uuid.uuid4().hex}:")
    yield redis_backend
    keys = [key async for key in redis_backend.client.scan_iter(match=f"{redis_backend.prefix}*")]
    if keys:
        await redis_backend.client.delete(*keys)
    await redis_backend.aclose()


async def test_a_model_limit_binds_whatever_name_the_request_used(backend):
    """``--model adv-pricey --rpm 2``: asking by upstream id or global id counts against it."""
    gate = TenantGate(backend)
    tenant = TenantInfo(id=1, name="t", limits={"adv-pricey": Limit(rpm=2)})
    by_upstream = resolved_names("hf:adv/Pricey-1", [PRICEY])
    assert by_upstream == {"hf:adv/Pricey-1", "adv-pricey", "pricey-1"}
    assert await gate.admit(tenant, by_upstream, 10) == ["adv-pricey"]
    assert await gate.admit(tenant, resolved_names("pricey-1", [PRICEY]), 10) == ["adv-pricey"]
    for name in ("hf:adv/Pricey-1", "pricey-1", "adv-pricey"):
        with pytest.raises(RateLimitExceeded):
            await gate.admit(tenant, resolved_names(name, [PRICEY]), 10)
    assert await gate.admit(tenant, resolved_names("other", [Candidate("cheap", "hf:cheap")]), 10) == []


async def test_a_model_budget_binds_whatever_name_the_request_used(backend):
    gate = TenantGate(backend)
    tenant = TenantInfo(id=1, name="t", limits={"adv-pricey": Limit(budget_usd=0.01)})
    scopes = await gate.admit(tenant, resolved_names("hf:adv/Pricey-1", [PRICEY]), 11_000, check_budget=False)
    with pytest.raises(QuotaExceeded) as refused:
        await gate.reserve(tenant, scopes, worst_case_cost(1000, 10_000, [TEN_DOLLARS]))
    assert refused.value.status == 429 and refused.value.code == "insufficient_quota"
    assert "may cost up to $10.01" in refused.value.message and "max_tokens" in refused.value.message


@pytest.mark.parametrize("concurrent", [50, 400])
async def test_concurrent_requests_cannot_overshoot_a_small_budget(backend, concurrent):
    """A $0.01 budget and $10.01 requests, all at once: none is admitted ($0, not $500.50)."""
    gate = TenantGate(backend)
    tenant = TenantInfo(id=1, name="t", limits={"*": Limit(budget_usd=0.01)})
    worst = worst_case_cost(1000, 10_000, [TEN_DOLLARS])
    results = await asyncio.gather(*(gate.reserve(tenant, ["*"], worst) for _ in range(concurrent)), return_exceptions=True)
    assert all(isinstance(r, QuotaExceeded) for r in results)
    assert await backend.get_spend(gate.spend_key(1, "*")) == 0.0


async def test_concurrent_requests_fill_a_budget_exactly_then_settle_to_the_real_cost(backend):
    gate = TenantGate(backend)
    tenant = TenantInfo(id=1, name="t", limits={"*": Limit(budget_usd=100.0), "m": Limit(rpm=1000)})
    results = await asyncio.gather(*(gate.reserve(tenant, ["*", "m"], 10.01) for _ in range(50)), return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    assert len(admitted) == 9 and all(isinstance(r, QuotaExceeded) for r in results if r not in admitted)
    # the calls cost less than their worst case; one failed before any token (0)
    await asyncio.gather(*(gate.settle(r, 2.0) for r in admitted[:8]), gate.settle(admitted[8], 0.0))
    assert await backend.get_spend(gate.spend_key(1, "*")) == pytest.approx(16.0)
    assert await backend.get_spend(gate.spend_key(1, "m")) == pytest.approx(16.0)  # spend goes to every scope
    more = await asyncio.gather(*(gate.reserve(tenant, ["*"], 10.01) for _ in range(20)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in more) == 8  # 16 + 8 * 10.01 = 96.08


async def test_a_spent_budget_refuses_with_the_old_message(backend):
    gate = TenantGate(backend)
    tenant = TenantInfo(id=1, name="t", limits={"*": Limit(budget_usd=1.0)})
    await gate.settle(await gate.reserve(tenant, ["*"], 1.0), 1.0)
    with pytest.raises(QuotaExceeded, match="has spent its monthly budget of \\$1 for all models"):
        await gate.reserve(tenant, ["*"], 0.0)
    with pytest.raises(QuotaExceeded, match="has spent its monthly budget"):  # the entry point of today's pipeline
        await gate.admit(tenant, "anything", 10)


async def test_without_guardrails_nothing_is_reserved_or_counted():
    backend = MemoryBackend()
    gate = TenantGate(backend)
    free = TenantInfo(id=1, name="free")
    scopes = await gate.admit(free, resolved_names("g", [PRICEY]), 100)
    assert scopes == [] and await gate.reserve(free, scopes, 50.0) is NO_RESERVATION
    await gate.settle(NO_RESERVATION, 50.0)
    assert backend.key_count() == 0


async def test_settle_never_fails_the_request(caplog):
    class Busy(MemoryBackend):
        async def settle_spend(self, keys, reservation, usd):
            raise StateBusy("busy")

    gate = TenantGate(Busy())
    tenant = TenantInfo(id=1, name="t", limits={"*": Limit(budget_usd=5.0)})
    reservation = await gate.reserve(tenant, ["*"], 1.0)
    with caplog.at_level(logging.ERROR, logger="synaxis.limits"):
        await gate.settle(reservation, 0.5)
    assert gate.unsettled == 1 and "spend of $0.500000 not counted" in caplog.text


def test_worst_case_cost_takes_the_dearest_candidate_and_the_tightest_output_bound():
    cheap = Spec(input_price=1.0, output_price=2.0, max_output=4096)
    dear = Spec(input_price=3.0, output_price=15.0, context_window=8000)
    assert worst_case_cost(1000, 100, [cheap, dear]) == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    assert worst_case_cost(1000, None, [cheap]) == pytest.approx((1000 + 4096 * 2) / 1e6)
    assert worst_case_cost(1000, None, [dear]) == pytest.approx((1000 * 3 + 7000 * 15) / 1e6)  # what the window leaves
    assert worst_case_cost(10, None, [Spec(output_price=1.0)]) == pytest.approx(UNKNOWN_MAX_OUTPUT_TOKENS / 1e6)
    assert worst_case_cost(10, 5, [Spec()]) == 0.0 and worst_case_cost(10, 5, []) == 0.0


async def test_prime_counts_ledger_rows_by_deployment_global_or_requested_model(sessions):
    """An in-process backend starts the month from the ledger, for each name a limit may bind."""
    from synaxis_core.tenants import service

    tenant, _ = await service.create_key(sessions, "acme")
    writer = LedgerWriter(sessions)
    rows = [("adv-pricey", "pricey-1", "hf:adv/Pricey-1", 1.0), ("adv-pricey-2", "pricey-1", "pricey-1", 2.0),
            ("cheap", None, "cheap", 4.0)]
    for n, (deployment, global_id, requested, cost) in enumerate(rows):
        await writer.record(UsageEntry(
            request_id=f"r{n}", tenant_id=tenant.id, provider_model_id=deployment, global_model_id=global_id,
            requested_model=requested, cost_usd=cost, created_at=datetime.now(timezone.utc),
        ))
    await writer.aclose()
    limits = {name: Limit(budget_usd=100.0) for name in ("*", "adv-pricey", "pricey-1", "cheap")}
    info = TenantInfo(id=tenant.id, name="acme", limits=limits)
    backend = MemoryBackend()
    gate = TenantGate(backend)
    await gate.prime(sessions, AuthSnapshot(version="1", tenants={"acme": info}))
    spent = {scope: await backend.get_spend(gate.spend_key(tenant.id, scope)) for scope in limits}
    assert spent == {"*": 7.0, "adv-pricey": 1.0, "pricey-1": 3.0, "cheap": 4.0}
