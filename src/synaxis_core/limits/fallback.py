"""When Redis goes away: keep serving, with the state in this process until it is back.

The gateway fails open on a Redis outage, like Kong's ``fault_tolerant`` rate limiting
or Envoy's default ``failure_mode_deny: false``: refusing every request because the
counters are unreachable would turn a Redis outage into a full outage. A request never
waits on a dead Redis and never fails because of it. While Redis is unreachable:

- tenant RPM/TPM limits and budgets are enforced by each instance on its own, from
  zero (N instances admit up to N times a limit; spend during the outage is in the
  ledger but not in the shared monthly total; budget reservations held in Redis by
  requests that end during the outage stay held there until they expire);
- consecutive failures, cool-downs and error windows are counted per instance, so a
  failing deployment is still disabled (the disable is written to the database, which
  every instance reads within a second) — only after 3 failures on one instance;
- an error is logged once when the outage starts and a warning when it ends;
  ``synaxis_state_backend_errors`` counts the calls that failed, and
  ``synaxis_state_backend_degraded`` is 1 during the outage; ``GET /health`` reports
  ``"redis": "error"`` (status 503) so monitoring sees it.

After a failed call, Redis is tried again by one call every ``retry_s`` (1 s); the
other calls go straight to memory, so only the first call of an outage (and one per
second after it) pays a connection attempt: immediate when the port is closed, up to
the 5 s connect timeout when the host does not answer at all. When Redis answers
again, its state is used again; what was counted in memory meanwhile is dropped.
Errors that are not an outage (a script bug, a wrong argument) still raise.

A busy pool is not an outage either: when every Redis connection stayed busy for the
pool's wait (``MaxConnectionsError``: Redis answers, this instance asks too much of it at
once), counting in memory would let each instance admit a full limit of its own. So the
call fails with :class:`StateBusy` (503) instead — the limits hold — unless an outage is
already in progress, when it goes to memory like the other calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from synaxis_core.errors import SynaxisError
from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.memory import MemoryBackend

log = logging.getLogger("synaxis.state")

T = TypeVar("T")

OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)
"""Redis unreachable, too slow, or a replica that cannot take writes (after a failover)."""

RETRY_S = 1.0
BUSY_LOG_INTERVAL_S = 10.0


class StateBusy(SynaxisError):
    """Every shared-state connection stayed busy: answer 503 and let the client retry soon."""

    status = 503
    code = "state_backend_busy"
    retry_after = 1.0


class FallbackBackend:
    """A shared :class:`StateBackend` that degrades to an in-process one while unreachable.

    :param primary: the shared backend (a ``RedisBackend``).
    :param fallback: where state goes during an outage (default: a new ``MemoryBackend``).
    :param retry_s: how often one call tries the primary again during an outage.
    :param on_failure: called for every call the primary failed (a metric).
    :param on_degraded: called with True when an outage starts, False when it ends.
    """

    def __init__(
        self,
        primary: StateBackend,
        *,
        fallback: StateBackend | None = None,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
        on_failure: Callable[[], None] | None = None,
        on_degraded: Callable[[bool], None] | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback if fallback is not None else MemoryBackend()
        self.retry_s = retry_s
        self.on_failure = on_failure
        self.on_degraded = on_degraded
        self.degraded = False
        self.failures = 0
        self.busy = 0
        """Calls refused with :class:`StateBusy`."""
        self._busy_log_at = 0.0
        self._clock = clock
        self._retry_at = 0.0

    async def _call(self, use: Callable[[StateBackend], Awaitable[T]]) -> T:
        if self.degraded:
            now = self._clock()
            if now < self._retry_at:
                return await use(self.fallback)
            self._retry_at = now + self.retry_s  # this call tries; the others keep to memory
        try:
            result = await use(self.primary)
        except MaxConnectionsError as exc:  # busy, not down (a subclass of ConnectionError)
            if self.degraded:
                return await use(self.fallback)
            self.busy += 1
            if self._clock() >= self._busy_log_at:  # at most one line per interval under overload
                self._busy_log_at = self._clock() + BUSY_LOG_INTERVAL_S
                log.warning("shared state busy (%d calls refused so far): %s", self.busy, exc)
            raise StateBusy("The gateway's shared state is busy; retry in a moment") from exc
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
            return await use(self.fallback)
        if self.degraded:
            self._set_degraded(False)
            log.warning("shared state is reachable again: limits, health and cool-downs are shared again")
        return result

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        if self.on_failure is not None:
            self.on_failure()
        self._retry_at = self._clock() + self.retry_s
        if not self.degraded:
            self._set_degraded(True)
            log.error(
                "shared state is unreachable (%s: %s): serving on, with limits, health and cool-downs "
                "kept in this process until it answers (tried again every %gs)",
                type(exc).__name__, exc, self.retry_s,
            )

    def _set_degraded(self, degraded: bool) -> None:
        self.degraded = degraded
        if self.on_degraded is not None:
            self.on_degraded(degraded)

    # --- StateBackend ----------------------------------------------------------------

    async def try_acquire(self, key: str, limit: int, *, amount: int = 1, window_s: float = 60.0) -> float | None:
        return await self._call(lambda b: b.try_acquire(key, limit, amount=amount, window_s=window_s))

    async def record(self, key: str, amount: int, *, window_s: float = 60.0) -> None:
        await self._call(lambda b: b.record(key, amount, window_s=window_s))

    async def add_spend(self, key: str, usd: float) -> float:
        return await self._call(lambda b: b.add_spend(key, usd))

    async def get_spend(self, key: str) -> float:
        return await self._call(lambda b: b.get_spend(key))

    async def reserve_spend(
        self, keys: Sequence[str], budgets: Sequence[float], reservation: str, usd: float, *, ttl_s: float
    ) -> tuple[int, float] | None:
        return await self._call(lambda b: b.reserve_spend(keys, budgets, reservation, usd, ttl_s=ttl_s))

    async def settle_spend(self, keys: Sequence[str], reservation: str, usd: float) -> None:
        await self._call(lambda b: b.settle_spend(keys, reservation, usd))

    async def incr_failures(self, key: str) -> int:
        return await self._call(lambda b: b.incr_failures(key))

    async def reset_failures(self, key: str) -> None:
        await self._call(lambda b: b.reset_failures(key))

    async def set_cooldown(self, key: str, seconds: float, reason: str) -> None:
        await self._call(lambda b: b.set_cooldown(key, seconds, reason))

    async def clear_cooldown(self, key: str) -> None:
        await self._call(lambda b: b.clear_cooldown(key))

    async def get_cooldowns(self, keys: Sequence[str]) -> dict[str, tuple[float, str]]:
        return await self._call(lambda b: b.get_cooldowns(keys))

    async def record_outcome(
        self, key: str, ok: bool, *, window_s: float = 60.0, reset: str | None = None
    ) -> tuple[int, int]:
        return await self._call(lambda b: b.record_outcome(key, ok, window_s=window_s, reset=reset))

    async def ping(self) -> bool:
        """Whether the shared backend answers (not the fallback: ``/health`` reports it)."""
        return await self.primary.ping()

    async def aclose(self) -> None:
        try:
            await self.primary.aclose()
        finally:
            await self.fallback.aclose()
