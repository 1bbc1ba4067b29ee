"""The in-process backend: plain dicts and deques for one gateway instance.

No locks: asyncio runs one coroutine at a time and no method awaits anything, so every
call is atomic. Memory stays bounded: a key's old entries are pruned whenever the key
is touched, and every ``sweep_interval_s`` a sweep prunes all keys and drops the empty
or expired ones (keys nobody touches any more).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable, Sequence

from synaxis_core.limits.base import (
    DEFAULT_COUNTER_TTL_S,
    DEFAULT_SPEND_TTL_S,
    check_amount,
    fits_budget,
)

Clock = Callable[[], float]

MEMORY_SETTLED_TTL_S = 10.0
"""How long a settled id is remembered here. Shorter than Redis's marker
(``base.SETTLED_TTL_S``): in one process a settle has no reply that can be lost, so a
repeat can only be the caller's own, at once. At thousands of settles a second the
markers are most of what this backend holds (60 s of them were 27 MB at 3,500 a second)."""


RESOLUTION = 600
"""Entries closer together than ``window / RESOLUTION`` (0.1 s of a minute) share one
log entry, stamped with the first one's time: the counts stay exact, memory stays flat
however many requests a second arrive, and a merged amount leaves the window at most
that much early."""


class _Log:
    """A sliding log: ``(time, amount)`` entries, oldest first, and their sum."""

    __slots__ = ("entries", "used", "window")

    def __init__(self, window: float) -> None:
        self.entries: deque[tuple[float, int]] = deque()
        self.used = 0
        self.window = window

    def prune(self, cutoff: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= cutoff:
            self.used -= entries.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        entries = self.entries
        if entries and now - entries[-1][0] < self.window / RESOLUTION:
            at, units = entries[-1]
            entries[-1] = (at, units + amount)
        else:
            entries.append((now, amount))
        self.used += amount


class _Outcomes:
    """A sliding window of outcomes: ``(time, failures, calls)`` entries and their sums."""

    __slots__ = ("entries", "failed", "calls", "window")

    def __init__(self, window: float) -> None:
        self.entries: deque[tuple[float, int, int]] = deque()
        self.failed = 0
        self.calls = 0
        self.window = window

    def prune(self, cutoff: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= cutoff:
            _, failed, calls = entries.popleft()
            self.failed -= failed
            self.calls -= calls

    def add(self, now: float, failed: int) -> None:
        entries = self.entries
        if entries and now - entries[-1][0] < self.window / RESOLUTION:
            at, f, c = entries[-1]
            entries[-1] = (at, f + failed, c + 1)
        else:
            entries.append((now, failed, 1))
        self.failed += failed
        self.calls += 1


class _Held:
    """One budget key's open reservations and their sum.

    Nothing is scanned per admission: the sum is kept as reservations come and go, and
    the reservations are only walked once the earliest one can have expired (in one
    process nearly never: a reservation expires when its request never settled).
    """

    __slots__ = ("entries", "total", "next_expiry")

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, float]] = {}  # id -> (usd, until)
        self.total = 0.0
        self.next_expiry = float("inf")

    def prune(self, now: float) -> None:
        if now < self.next_expiry:
            return
        entries = self.entries
        for rid in [rid for rid, (_, until) in entries.items() if until <= now]:
            del entries[rid]
        self.total = sum(usd for usd, _ in entries.values())
        self.next_expiry = min((until for _, until in entries.values()), default=float("inf"))

    def add(self, rid: str, usd: float, until: float) -> None:
        self.entries[rid] = (usd, until)
        self.total += usd
        self.next_expiry = min(self.next_expiry, until)

    def remove(self, rid: str) -> None:
        held = self.entries.pop(rid, None)
        if held is not None:
            self.total = self.total - held[0] if self.entries else 0.0


class _Settled:
    """Settled reservation ids, each remembered between ``ttl`` and twice that.

    Two generations of hashes (a 64-bit hash, not the id: half the memory at a
    few thousand settles a second): the current one takes new ids, and every ``ttl``
    the previous one is dropped whole, so nothing is ever scanned.
    """

    __slots__ = ("current", "previous", "rotate_at", "ttl")

    def __init__(self, ttl: float, now: float) -> None:
        self.current: set[int] = set()
        self.previous: set[int] = set()
        self.ttl = ttl
        self.rotate_at = now + ttl

    def rotate(self, now: float) -> None:
        if now >= self.rotate_at:
            self.previous = self.current if now < self.rotate_at + self.ttl else set()
            self.current = set()
            self.rotate_at = now + self.ttl

    def add(self, rid: str, now: float) -> bool:
        """Remember ``rid``; False when it was already settled."""
        self.rotate(now)
        h = hash(rid)
        if h in self.current or h in self.previous:
            return False
        self.current.add(h)
        return True

    def __len__(self) -> int:
        return len(self.current) + len(self.previous)


class MemoryBackend:
    """:class:`~synaxis_core.limits.base.StateBackend` in process memory.

    :param clock: seconds, monotonic (inject a fake clock in tests).
    :param counter_ttl_s: a failure counter nobody increments for this long is forgotten.
    :param spend_ttl_s: a spend total nobody adds to for this long is forgotten.
    :param sweep_interval_s: how often (by ``clock``) all keys are pruned.
    """

    def __init__(
        self,
        clock: Clock = time.monotonic,
        *,
        counter_ttl_s: float = DEFAULT_COUNTER_TTL_S,
        spend_ttl_s: float = DEFAULT_SPEND_TTL_S,
        sweep_interval_s: float = 60.0,
    ) -> None:
        self._clock = clock
        self._counter_ttl = counter_ttl_s
        self._spend_ttl = spend_ttl_s
        self._sweep_interval = sweep_interval_s
        self._next_sweep = clock() + sweep_interval_s
        self._logs: dict[str, _Log] = {}
        self._outcomes: dict[str, _Outcomes] = {}
        self._spend: dict[str, tuple[float, float]] = {}  # key -> (total, expires at)
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._cooldowns: dict[str, tuple[str, float]] = {}  # key -> (reason, until)
        self._reserved: dict[str, _Held] = {}
        self._settled = _Settled(MEMORY_SETTLED_TTL_S, clock())  # a repeated settle is a no-op

    def _now(self) -> float:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        return now

    # --- sliding-window limiter ------------------------------------------------------

    async def try_acquire(
        self, key: str, limit: int, *, amount: int = 1, window_s: float = 60.0
    ) -> float | None:
        check_amount(amount, window_s)
        if amount > limit:
            return float(window_s)
        if amount == 0:
            return None
        now = self._now()
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log(window_s)
        cutoff = now - window_s
        log.prune(cutoff)
        if log.used + amount <= limit:
            log.window = window_s
            log.add(now, amount)
            return None
        need = log.used + amount - limit
        for at, units in log.entries:
            need -= units
            if need <= 0:
                return at - cutoff  # > 0: entries older than the cutoff were pruned
        return float(window_s)  # unreachable while ``used`` matches the entries

    async def record(self, key: str, amount: int, *, window_s: float = 60.0) -> None:
        check_amount(amount, window_s)
        if amount == 0:
            return
        now = self._now()
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log(window_s)
        log.prune(now - window_s)
        log.window = window_s
        log.add(now, amount)

    # --- spend -----------------------------------------------------------------------

    async def add_spend(self, key: str, usd: float) -> float:
        now = self._now()
        current = self._spend.get(key)
        total = usd if current is None or current[1] <= now else current[0] + usd
        self._spend[key] = (total, now + self._spend_ttl)
        return total

    async def get_spend(self, key: str) -> float:
        current = self._spend.get(key)
        if current is None or current[1] <= self._now():
            return 0.0
        return current[0]

    async def reserve_spend(
        self, keys: Sequence[str], budgets: Sequence[float], reservation: str, usd: float, *, ttl_s: float
    ) -> tuple[int, float] | None:
        now = self._now()
        reserved = self._reserved
        for i, (key, budget) in enumerate(zip(keys, budgets)):
            held = reserved.get(key)
            if held is None:
                held = reserved[key] = _Held()
            held.prune(now)
            if reservation in held.entries:
                return None  # already reserved (a repeated call)
            committed = await self.get_spend(key) + held.total
            if not fits_budget(committed, usd, budget):
                return i, committed
        for key in keys:
            reserved[key].add(reservation, usd, now + ttl_s)
        return None

    async def settle_spend(self, keys: Sequence[str], reservation: str, usd: float) -> None:
        if not self._settled.add(reservation, self._now()):
            return
        for key in keys:
            held = self._reserved.get(key)
            if held is not None:
                held.remove(reservation)
                if not held.entries:
                    del self._reserved[key]
            if usd > 0:
                await self.add_spend(key, usd)

    # --- consecutive failures ----------------------------------------------------------

    async def incr_failures(self, key: str) -> int:
        now = self._now()
        current = self._failures.get(key)
        count = 1 if current is None or current[1] <= now else current[0] + 1
        self._failures[key] = (count, now + self._counter_ttl)
        return count

    async def reset_failures(self, key: str) -> None:
        self._failures.pop(key, None)

    # --- cool-downs --------------------------------------------------------------------

    async def set_cooldown(self, key: str, seconds: float, reason: str) -> None:
        if seconds <= 0:
            self._cooldowns.pop(key, None)
            return
        self._cooldowns[key] = (reason, self._now() + seconds)

    async def clear_cooldown(self, key: str) -> None:
        self._cooldowns.pop(key, None)

    def has_cooldowns(self) -> bool:
        """False when no cool-down is recorded at all (ended ones may still count until read).

        Synchronous and key-free: callers skip building a key list on the usual request.
        """
        return bool(self._cooldowns)

    async def get_cooldowns(self, keys: Sequence[str]) -> dict[str, tuple[float, str]]:
        cooldowns = self._cooldowns
        if not cooldowns:
            return {}
        now = self._now()
        found: dict[str, tuple[float, str]] = {}
        for key in keys:
            entry = cooldowns.get(key)
            if entry is None:
                continue
            remaining = entry[1] - now
            if remaining > 0:
                found[key] = (remaining, entry[0])
            else:
                del cooldowns[key]
        return found

    # --- outcome window ----------------------------------------------------------------

    async def record_outcome(
        self, key: str, ok: bool, *, window_s: float = 60.0, reset: str | None = None
    ) -> tuple[int, int]:
        check_amount(0, window_s)
        if reset is not None:
            self._failures.pop(reset, None)
        now = self._now()
        log = self._outcomes.get(key)
        if log is None:
            log = self._outcomes[key] = _Outcomes(window_s)
        log.prune(now - window_s)
        log.window = window_s
        log.add(now, 0 if ok else 1)
        return log.failed, log.calls

    # --- housekeeping ------------------------------------------------------------------

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        """Nothing to release; the state is dropped."""
        for store in self._stores():
            store.clear()
        self._settled = _Settled(MEMORY_SETTLED_TTL_S, self._clock())

    def key_count(self) -> int:
        """Keys held across all kinds of state (for tests and a metrics gauge)."""
        return sum(len(store) for store in self._stores()) + len(self._settled)

    def _stores(self) -> tuple[dict[str, object], ...]:
        return self._logs, self._outcomes, self._spend, self._failures, self._cooldowns, self._reserved

    def _sweep(self, now: float) -> None:
        """Prune every window and drop empty or expired keys."""
        self._next_sweep = now + self._sweep_interval
        for logs in (self._logs, self._outcomes):
            for key in list(logs):
                log = logs[key]
                log.prune(now - log.window)
                if not log.entries:
                    del logs[key]
        for store in (self._spend, self._failures, self._cooldowns):
            for key in [key for key, value in store.items() if value[1] <= now]:
                del store[key]
        for key in list(self._reserved):
            held = self._reserved[key]
            held.prune(now)
            if not held.entries:
                del self._reserved[key]
        self._settled.rotate(now)
