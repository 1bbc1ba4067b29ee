"""The shared-state backends: one suite, run on memory and on the local Redis.

Memory runs on a fake clock (time passes only when a test advances it); Redis runs on
real time with short windows, each test under its own random key prefix (the database
is never flushed, concurrent runs never collide) and its keys deleted afterwards.
Assertions that need "still inside the window" are guarded by the real time elapsed, so
a slow machine can weaken a Redis check but never fail it spuriously.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import pytest

from synaxis_core.errors import ConfigError
from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.factory import create_backend
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.limits.redis import RedisBackend
from synaxis_core.settings import Settings

SHORT = 0.3
"""The window of tests that wait for it to pass (real seconds on Redis)."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    backend: StateBackend
    advance: Callable[[float], Awaitable[None]]
    """Let at least this many seconds pass (real or fake)."""
    clock: Callable[[], float]
    """Seconds that really passed (fake clock: only what tests advanced)."""
    peers: list[StateBackend] = field(default_factory=list)

    def within(self, since: float, window: float) -> bool:
        """True when less than ``window`` passed since ``since``: entries are still counted."""
        return self.clock() - since < window


async def _redis_harness(url: str) -> Harness:
    prefix = f"synaxis-test:{uuid.uuid4().hex}:"

    async def advance(seconds: float) -> None:
        await asyncio.sleep(seconds + 0.05)

    return Harness(RedisBackend.from_url(url, prefix=prefix), advance, time.monotonic)


async def _cleanup_redis(backend: RedisBackend) -> None:
    keys = [key async for key in backend.client.scan_iter(match=f"{backend.prefix}*")]
    if keys:
        await backend.client.delete(*keys)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def h(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.now += seconds

        harness = Harness(MemoryBackend(clock=clock), advance, clock)
        yield harness
    else:
        harness = await _redis_harness(request.getfixturevalue("redis_url"))
        yield harness
        await _cleanup_redis(harness.backend)  # type: ignore[arg-type]
    for backend in (harness.backend, *harness.peers):
        await backend.aclose()


async def test_implements_the_protocol(h: Harness) -> None:
    assert isinstance(h.backend, StateBackend)
    assert await h.backend.ping() is True


async def test_limiter_admits_up_to_the_limit_then_refuses(h: Harness) -> None:
    results = [await h.backend.try_acquire("tenant:t1:rpm", 5) for _ in range(7)]
    assert results[:5] == [None] * 5
    for retry in results[5:]:
        assert retry is not None and 0 < retry <= 60


async def test_limiter_frees_up_after_the_window(h: Harness) -> None:
    started = h.clock()
    for _ in range(3):
        assert await h.backend.try_acquire("k", 3, window_s=SHORT) is None
    retry = await h.backend.try_acquire("k", 3, window_s=SHORT)
    if h.within(started, SHORT):
        assert retry is not None and 0 < retry <= SHORT
    await h.advance(SHORT)
    assert [await h.backend.try_acquire("k", 3, window_s=SHORT) for _ in range(3)] == [None] * 3


async def test_limiter_amounts(h: Harness) -> None:
    """TPM: amounts count, a refusal records nothing, too large is refused for a window."""
    b = h.backend
    assert await b.try_acquire("tpm", 100, amount=60) is None
    assert await b.try_acquire("tpm", 100, amount=30) is None
    retry = await b.try_acquire("tpm", 100, amount=20)
    assert retry is not None and 0 < retry <= 60
    assert await b.try_acquire("tpm", 100, amount=10) is None  # exactly full
    assert (await b.try_acquire("tpm", 100, amount=1) or 0) > 0
    assert await b.try_acquire("tpm", 100, amount=0) is None
    assert await b.try_acquire("other", 100, amount=101, window_s=7.5) == 7.5


async def test_record_counts_without_checking(h: Harness) -> None:
    b = h.backend
    await b.record("tpm", 25)
    assert (await b.try_acquire("tpm", 10) or 0) > 0
    assert await b.try_acquire("tpm", 100, amount=75) is None
    assert (await b.try_acquire("tpm", 100) or 0) > 0
    await b.record("short", 5, window_s=SHORT)
    await h.advance(SHORT)
    assert await b.try_acquire("short", 5, amount=5, window_s=SHORT) is None


async def test_limiter_is_exact_under_concurrency(h: Harness) -> None:
    results = await asyncio.gather(*(h.backend.try_acquire("burst", 10) for _ in range(50)))
    assert results.count(None) == 10
    assert all(r is not None and r > 0 for r in results if r is not None)


async def test_invalid_arguments_raise(h: Harness) -> None:
    with pytest.raises(ValueError):
        await h.backend.try_acquire("k", 10, amount=-1)
    with pytest.raises(ValueError):
        await h.backend.record("k", 1, window_s=0)
    with pytest.raises(ValueError):
        await h.backend.record_outcome("k", True, window_s=-1)


async def test_spend_accumulates(h: Harness) -> None:
    b = h.backend
    assert await b.get_spend("tenant:t1:2025-01") == 0.0
    assert await b.add_spend("tenant:t1:2025-01", 0.5) == pytest.approx(0.5)
    assert await b.add_spend("tenant:t1:2025-01", 0.25) == pytest.approx(0.75)
    assert await b.add_spend("tenant:t1:2025-01", 1e-7) == pytest.approx(0.7500001)
    assert await b.get_spend("tenant:t1:2025-01") == pytest.approx(0.7500001)
    assert await b.get_spend("tenant:t1:2025-02") == 0.0


async def test_failure_counter(h: Harness) -> None:
    b = h.backend
    assert [await b.incr_failures("dep:a") for _ in range(3)] == [1, 2, 3]
    assert await b.incr_failures("dep:b") == 1
    await b.reset_failures("dep:a")
    await b.reset_failures("dep:never-failed")
    assert await b.incr_failures("dep:a") == 1
    assert await b.incr_failures("dep:b") == 2


async def test_a_success_resets_the_failure_counter_with_its_outcome(h: Harness) -> None:
    b = h.backend
    assert [await b.incr_failures(key) for key in ("dep:a", "dep:a", "dep:b")] == [1, 2, 1]
    assert await b.record_outcome("prov:x", True, reset="dep:a") == (0, 1)
    assert await b.record_outcome("prov:x", True, reset="dep:never-failed") == (0, 2)
    assert await b.incr_failures("dep:a") == 1  # the run of failures started again
    assert await b.incr_failures("dep:b") == 2  # another deployment's run is untouched


async def test_cooldowns_expire_and_report_reasons(h: Harness) -> None:
    b = h.backend
    assert await b.get_cooldowns([]) == {}
    await b.set_cooldown("dep:a", SHORT, "rate limited by the provider")
    await b.set_cooldown("prov:x", 60, "provider 'x' refused the API key — 401")
    active = await b.get_cooldowns(["dep:a", "prov:x", "dep:b"])
    assert set(active) <= {"dep:a", "prov:x"} and "prov:x" in active
    assert active["prov:x"][1] == "provider 'x' refused the API key — 401"
    assert 0 < active["prov:x"][0] <= 60
    if "dep:a" in active:
        assert active["dep:a"][1] == "rate limited by the provider"
        assert 0 < active["dep:a"][0] <= SHORT
    await h.advance(SHORT)
    assert set(await b.get_cooldowns(["dep:a", "prov:x"])) == {"prov:x"}
    await b.set_cooldown("prov:x", 30, "shorter, newer")
    remaining, reason = (await b.get_cooldowns(["prov:x"]))["prov:x"]
    assert reason == "shorter, newer" and 0 < remaining <= 30
    await b.clear_cooldown("prov:x")
    await b.clear_cooldown("never-cooled")
    await b.set_cooldown("dep:c", 0, "zero means clear")
    assert await b.get_cooldowns(["prov:x", "dep:c"]) == {}


async def test_outcomes_window(h: Harness) -> None:
    b = h.backend
    started = h.clock()
    outcomes = [await b.record_outcome("prov:x", ok, window_s=SHORT) for ok in (True, False, False)]
    if h.within(started, SHORT):
        assert outcomes == [(0, 1), (1, 2), (2, 3)]
    await h.advance(SHORT)
    assert await b.record_outcome("prov:x", True, window_s=SHORT) == (0, 1)
    assert await b.record_outcome("prov:y", False) == (1, 1)


async def test_tenants_are_independent(h: Harness) -> None:
    b = h.backend
    assert [await b.try_acquire("tenant:t1:rpm", 2) for _ in range(2)] == [None, None]
    assert (await b.try_acquire("tenant:t1:rpm", 2) or 0) > 0
    assert await b.try_acquire("tenant:t2:rpm", 2) is None
    await b.add_spend("tenant:t1:2025-01", 3.0)
    assert await b.get_spend("tenant:t2:2025-01") == 0.0
    await b.set_cooldown("tenant:t1", 60, "t1 only")
    assert set(await b.get_cooldowns(["tenant:t1", "tenant:t2"])) == {"tenant:t1"}


async def test_each_kind_of_state_has_its_own_namespace(h: Harness) -> None:
    b = h.backend
    await b.set_cooldown("k", 60, "cooling")
    await b.add_spend("k", 2.0)
    assert await b.try_acquire("k", 1) is None
    assert await b.incr_failures("k") == 1
    assert await b.record_outcome("k", False) == (1, 1)
    assert await b.get_spend("k") == pytest.approx(2.0)
    assert (await b.get_cooldowns(["k"]))["k"][1] == "cooling"


async def test_a_reservation_holds_budget_until_settled(h: Harness) -> None:
    """Budgets: what is reserved counts at once; settling replaces it by the real cost."""
    b = h.backend
    assert await b.reserve_spend(["m"], [10.0], "r1", 6.0, ttl_s=60) is None
    refused = await b.reserve_spend(["m"], [10.0], "r2", 6.0, ttl_s=60)  # 6 held + 6 > 10
    assert refused is not None and refused[0] == 0 and refused[1] == pytest.approx(6.0)
    assert await b.get_spend("m") == 0.0  # reserved is not spent
    await b.settle_spend(["m"], "r1", 1.5)
    assert await b.get_spend("m") == pytest.approx(1.5)
    assert await b.reserve_spend(["m"], [10.0], "r2", 6.0, ttl_s=60) is None  # 1.5 + 6 fits now
    await b.settle_spend(["m"], "r2", 0.0)  # failed upstream: nothing spent, the hold is freed
    assert await b.get_spend("m") == pytest.approx(1.5)
    assert await b.reserve_spend(["m"], [10.0], "r3", 8.5, ttl_s=60) is None  # exactly the budget


async def test_a_reservation_is_all_or_nothing_across_scopes(h: Harness) -> None:
    b = h.backend
    await b.add_spend("model", 4.0)
    refused = await b.reserve_spend(["all", "model"], [100.0, 5.0], "r1", 2.0, ttl_s=60)
    assert refused is not None and refused[0] == 1 and refused[1] == pytest.approx(4.0)
    assert await b.reserve_spend(["all"], [2.0], "r2", 2.0, ttl_s=60) is None  # "all" held nothing for r1
    await b.settle_spend(["all", "model"], "r2", 0.5)  # spend goes to every key settled
    assert await b.get_spend("all") == pytest.approx(0.5) and await b.get_spend("model") == pytest.approx(4.5)


async def test_a_spent_or_zero_budget_refuses_even_a_free_request(h: Harness) -> None:
    b = h.backend
    assert await b.reserve_spend(["zero"], [0.0], "r1", 0.0, ttl_s=60) is not None
    await b.add_spend("spent", 1.0)
    assert await b.reserve_spend(["spent"], [1.0], "r2", 0.0, ttl_s=60) is not None
    assert await b.reserve_spend(["left"], [1.0], "r3", 0.0, ttl_s=60) is None


async def test_reservations_are_exact_under_concurrency(h: Harness) -> None:
    """50 concurrent $10.01 requests against $100: 9 fit (90.09), the rest are refused."""
    b = h.backend
    results = await asyncio.gather(*(b.reserve_spend(["t"], [100.0], f"r{i}", 10.01, ttl_s=60) for i in range(50)))
    admitted = [f"r{i}" for i, refused in enumerate(results) if refused is None]
    assert len(admitted) == 9
    await asyncio.gather(*(b.settle_spend(["t"], rid, 10.01) for rid in admitted))
    assert await b.get_spend("t") == pytest.approx(90.09)


async def test_an_unsettled_reservation_expires(h: Harness) -> None:
    b = h.backend
    assert await b.reserve_spend(["k"], [1.0], "dead", 1.0, ttl_s=SHORT) is None  # its process died
    await h.advance(SHORT)
    assert await b.reserve_spend(["k"], [1.0], "next", 1.0, ttl_s=60) is None
    await b.settle_spend(["k"], "dead", 0.25)  # settled late: the spend still counts
    assert await b.get_spend("k") == pytest.approx(0.25)


async def test_repeated_reserve_and_settle_count_once(h: Harness) -> None:
    """A call retried after a lost reply (same id) changes nothing the second time."""
    b = h.backend
    assert await b.reserve_spend(["k"], [10.0], "r1", 6.0, ttl_s=60) is None
    assert await b.reserve_spend(["k"], [10.0], "r1", 6.0, ttl_s=60) is None
    assert await b.reserve_spend(["k"], [10.0], "r2", 4.0, ttl_s=60) is None  # r1 held once: 6 + 4
    await b.settle_spend(["k"], "r1", 3.0)
    await b.settle_spend(["k"], "r1", 3.0)
    assert await b.get_spend("k") == pytest.approx(3.0)


# --- memory only: exact timings on the fake clock, bounded memory ---------------------


async def test_memory_is_a_sliding_log_not_fixed_buckets() -> None:
    clock = FakeClock()
    b = MemoryBackend(clock=clock)
    assert await b.try_acquire("k", 10, amount=5) is None  # t=0
    clock.now += 30
    assert await b.try_acquire("k", 10, amount=4) is None  # t=30
    clock.now += 29
    assert await b.try_acquire("k", 10, amount=2) == pytest.approx(1.0)  # t=59: t=0 frees at 60
    assert await b.try_acquire("k", 10, amount=7) == pytest.approx(31.0)  # needs t=30 gone too
    clock.now += 1
    assert await b.try_acquire("k", 10, amount=6) is None  # t=60: 4 + 6
    assert await b.try_acquire("k", 10) == pytest.approx(30.0)


async def test_memory_stays_bounded() -> None:
    clock = FakeClock()
    b = MemoryBackend(clock=clock, counter_ttl_s=100, spend_ttl_s=100, sweep_interval_s=10)
    for i in range(100):
        await b.try_acquire(f"rpm:{i}", 5, window_s=1)
        await b.record_outcome(f"prov:{i}", False, window_s=1)
        await b.add_spend(f"spend:{i}", 1.0)
        await b.incr_failures(f"dep:{i}")
        await b.set_cooldown(f"dep:{i}", 5, "cooling")
    await b.reserve_spend(["budget"], [5.0], "r1", 1.0, ttl_s=20)
    await b.settle_spend(["budget"], "r0", 0.0)
    assert b.key_count() == 502
    clock.now += 50
    await b.get_spend("spend:0")  # a sweep: windows, cool-downs and the reservation are gone
    assert b.key_count() == 200  # spend and failures (a settled marker lasts 10–20 s here)
    assert await b.get_spend("spend:1") == 1.0
    clock.now += 100
    assert await b.get_spend("spend:1") == 0.0
    assert await b.incr_failures("dep:1") == 1
    assert b.key_count() == 1


# --- Redis only: several instances, prefixes, expiry -----------------------------------


@pytest.mark.redis
async def test_redis_instances_share_state_exactly(redis_url: str) -> None:
    h = await _redis_harness(redis_url)
    a, b = h.backend, RedisBackend.from_url(redis_url, prefix=h.backend.prefix)  # type: ignore[attr-defined]
    try:
        calls = [(a if i % 2 else b).try_acquire("burst", 10) for i in range(50)]
        assert (await asyncio.gather(*calls)).count(None) == 10
        await a.add_spend("spend", 1.5)
        assert await b.add_spend("spend", 1.0) == pytest.approx(2.5)
        await a.incr_failures("dep")
        assert await b.incr_failures("dep") == 2
        await a.set_cooldown("dep", 60, "from a")
        assert (await b.get_cooldowns(["dep"]))["dep"][1] == "from a"
        other = RedisBackend.from_url(redis_url, prefix=f"{a.prefix}other:")  # type: ignore[attr-defined]
        assert await other.try_acquire("burst", 10) is None
        assert await other.get_spend("spend") == 0.0
        await _cleanup_redis(other)
        await other.aclose()
    finally:
        await _cleanup_redis(a)  # type: ignore[arg-type]
        await a.aclose()
        await b.aclose()


@pytest.mark.redis
async def test_redis_keys_live_under_the_prefix_and_expire(redis_url: str) -> None:
    h = await _redis_harness(redis_url)
    b: RedisBackend = h.backend  # type: ignore[assignment]
    try:
        await b.try_acquire("rpm", 10)
        await b.record_outcome("prov", False)
        await b.add_spend("spend", 1.0)
        await b.incr_failures("dep")
        await b.set_cooldown("dep", 60, "cooling")
        assert await b.reserve_spend(["budget"], [5.0], "r1", 1.0, ttl_s=60) is None
        await b.settle_spend(["budget"], "r2", 1.0)
        keys = [key async for key in b.client.scan_iter(match=f"{b.prefix}*")]
        assert len(keys) == 11  # + resv, resv-usd, spend of "budget", settled:r2
        for key in keys:
            assert await b.client.pttl(key) > 0, key
    finally:
        await _cleanup_redis(b)
        await b.aclose()


async def test_redis_ping_is_false_when_unreachable() -> None:
    b = RedisBackend.from_url("redis://127.0.0.1:1/0")
    assert await b.ping() is False
    await b.aclose()


# --- factory ---------------------------------------------------------------------------


async def test_factory_chooses_memory_or_redis() -> None:
    assert isinstance(create_backend(Settings.from_env({})), MemoryBackend)
    assert isinstance(create_backend(Settings.from_env({"SYNAXIS_REDIS_URL": ""})), MemoryBackend)
    backend = create_backend(Settings.from_env({"SYNAXIS_REDIS_URL": "redis://127.0.0.1:6379/0"}))
    assert isinstance(backend, RedisBackend) and backend.prefix == "synaxis:"
    await backend.aclose()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://127.0.0.1:abc", "redis://u:hunter2@h:99999"]
)
def test_factory_rejects_malformed_redis_urls(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        create_backend(Settings.from_env({"SYNAXIS_REDIS_URL": url}))
    assert "SYNAXIS_REDIS_URL" in info.value.message
    assert "hunter2" not in info.value.message
