"""The shared-state interface: rate-limit windows, spend, failure counters, cool-downs.

Routing state lives in process memory (:class:`~synaxis_core.limits.memory.MemoryBackend`,
one gateway instance) or in Redis (:class:`~synaxis_core.limits.redis.RedisBackend`,
several instances sharing it). Both implement :class:`StateBackend` with the same
semantics and are tested by the same suite (``tests/test_limits_backends.py``).

Conventions every caller can rely on:

- Keys are free-form strings chosen by the caller (``"tenant:t1:rpm"``,
  ``"dep:deepseek-r1-syn"``). Each kind of state has its own namespace: the same key used
  for a limiter, a spend total, a failure counter, a cool-down and an outcome window
  names five independent things.
- Use one ``window_s`` per limiter or outcome key: entries are pruned with the window of
  the call that touches them.
- State that nobody writes expires, so nothing grows forever: windows once they have
  passed, failure counters and spend totals after ``counter_ttl_s`` / ``spend_ttl_s`` of
  no writes (constructor arguments of both backends), cool-downs when they end, budget
  reservations after their ``ttl_s``.
- Arguments are validated cheaply: a negative ``amount`` or a non-positive ``window_s``
  raises :class:`ValueError`.
- The Redis backend raises ``redis.exceptions.RedisError`` (``ConnectionError``,
  ``TimeoutError``) when Redis is unreachable; the caller decides whether to fail open.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

DEFAULT_COUNTER_TTL_S = 86_400.0
"""Failure counters nobody touched for a day are forgotten."""

DEFAULT_SPEND_TTL_S = 62 * 86_400.0
"""Spend totals outlive a month of silence (the caller puts the month in the key)."""


@runtime_checkable
class StateBackend(Protocol):
    """Counters, windows and cool-downs shared by the routing hot path."""

    async def try_acquire(
        self, key: str, limit: int, *, amount: int = 1, window_s: float = 60.0
    ) -> float | None:
        """Sliding-window limiter (exact: a sliding log, not fixed buckets).

        If ``amount`` more units fit under ``limit`` within the last ``window_s`` seconds,
        record them and return None; otherwise record nothing and return the seconds until
        enough capacity frees (> 0). An ``amount`` larger than ``limit`` is refused with
        retry = ``window_s``. ``amount=0`` is admitted and records nothing.
        """
        ...

    async def record(self, key: str, amount: int, *, window_s: float = 60.0) -> None:
        """Record consumption without checking (e.g. the real token count once known).

        It counts against later :meth:`try_acquire` calls on the same key, even if it
        takes the window over its limit. ``amount=0`` records nothing.
        """
        ...

    async def add_spend(self, key: str, usd: float) -> float:
        """Add to a running total (budgets; the caller puts the month in the key).

        Returns the new total.
        """
        ...

    async def get_spend(self, key: str) -> float:
        """The running total of ``key``; 0.0 when nothing was spent (reservations excluded)."""
        ...

    async def reserve_spend(
        self, keys: Sequence[str], budgets: Sequence[float], reservation: str, usd: float, *, ttl_s: float
    ) -> tuple[int, float] | None:
        """Reserve ``usd`` against every budget at once, or nothing (budgets).

        For each ``keys[i]``: the spent total plus the amounts reserved and not yet
        settled, plus ``usd``, must stay within ``budgets[i]``, and the committed part
        (spent + reserved) must be below it (so a budget of 0 refuses even a free
        request). If every key fits, ``usd`` is reserved on all of them under the id
        ``reservation`` (unique, chosen by the caller) and None is returned; otherwise
        nothing changes and ``(i, committed)`` names the first key that does not fit.
        A reservation nobody settles stops counting after ``ttl_s`` (its process died).
        Reserving the same id twice reserves it once (a retried call is harmless).
        """
        ...

    async def settle_spend(self, keys: Sequence[str], reservation: str, usd: float) -> None:
        """End ``reservation`` on ``keys`` and add the real cost ``usd`` to their spend.

        Keys without that reservation (expired, or never reserved: a scope without a
        budget) just get the spend. Settling the same id twice counts it once.
        """
        ...

    async def incr_failures(self, key: str) -> int:
        """Consecutive-failure counter +1; returns the new count."""
        ...

    async def reset_failures(self, key: str) -> None:
        """Back to zero (a success)."""
        ...

    async def set_cooldown(self, key: str, seconds: float, reason: str) -> None:
        """Cool ``key`` down for ``seconds`` from now with ``reason``.

        Replaces any cool-down in force for ``key`` (a shorter one too); ``seconds <= 0``
        clears it.
        """
        ...

    async def clear_cooldown(self, key: str) -> None:
        """End the cool-down of ``key`` now (no-op when none is in force)."""
        ...

    async def get_cooldowns(self, keys: Sequence[str]) -> dict[str, tuple[float, str]]:
        """For the keys currently cooling down: key -> (seconds remaining, reason).

        One round trip for all keys; keys not cooling down are absent from the result.
        """
        ...

    async def record_outcome(
        self, key: str, ok: bool, *, window_s: float = 60.0, reset: str | None = None
    ) -> tuple[int, int]:
        """Sliding window of outcomes (provider 5xx ratio).

        Returns ``(failures, total)`` in the window after recording this outcome.
        ``reset``: a failure counter to reset in the same call, as
        :meth:`reset_failures` (a success ends a deployment's run of failures: one
        round trip for both).
        """
        ...

    async def ping(self) -> bool:
        """True when the backend can serve (always for memory); never raises."""
        ...

    async def aclose(self) -> None:
        """Release connections; the backend must not be used afterwards."""
        ...


SETTLED_TTL_S = 60.0
"""How long a settled reservation id is remembered, so that a retried settle counts once."""

BUDGET_EPSILON_USD = 1e-9
"""Float slack when comparing USD totals with a budget (sums of float costs)."""


def fits_budget(committed: float, usd: float, budget: float) -> bool:
    """Whether ``usd`` more fits: committed + usd within budget, committed below it."""
    return committed < budget - BUDGET_EPSILON_USD and committed + usd <= budget + BUDGET_EPSILON_USD


def check_amount(amount: int, window_s: float) -> None:
    """Shared argument validation (raises ValueError)."""
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    if not window_s > 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
