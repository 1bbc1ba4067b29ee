"""The in-process backend keeps flat memory at high request rates, with exact counts."""

from __future__ import annotations

from synaxis_core.limits.memory import RESOLUTION, MemoryBackend


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_busy_window_keeps_few_entries_and_exact_counts():
    clock = Clock()
    backend = MemoryBackend(clock=clock)
    for i in range(30_000):  # 500 requests a second for a minute
        clock.now = 1000.0 + i / 500
        assert await backend.try_acquire("t:1:rpm:*", 1_000_000) is None
        await backend.record_outcome("prov:x", i % 10 != 0)
    log = backend._logs["t:1:rpm:*"]
    outcomes = backend._outcomes["prov:x"]
    assert log.used == 30_000  # every request of the last 60 s, counted exactly
    assert len(log.entries) <= RESOLUTION + 1 and len(outcomes.entries) <= RESOLUTION + 1
    failures, calls = await backend.record_outcome("prov:x", True)
    assert calls == outcomes.calls and abs(failures / calls - 0.1) < 0.01


async def test_merged_entries_still_refuse_at_the_limit():
    clock = Clock()
    backend = MemoryBackend(clock=clock)
    admitted = 0
    for _ in range(50):  # all within a millisecond: one merged entry
        clock.now += 0.00001
        admitted += await backend.try_acquire("k", 10) is None
    assert admitted == 10
    clock.now += 61
    assert await backend.try_acquire("k", 10) is None
