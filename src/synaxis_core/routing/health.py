"""Deployment health: consecutive failures, auto-disable, cool-downs, latency, recovery.

- A deployment failing ``failure_threshold`` times in a row is disabled: its reason is
  recorded (``on_disable`` persists it to the database off the hot path), a log line
  and a metric are written, and a cool-down key tells every instance to skip it. Under
  heavy traffic a run of failures happens by chance (at 10% failures, three in a row
  every ~1,000 calls), so when this instance has seen at least ``RECENT_MIN`` of the
  deployment's attempts in the last minute, most of its last ``RECENT_MAX`` must have
  failed too: a deployment that mostly works is not disabled for a bad streak.
- A success resets the count.
- 429 cools the deployment down for its Retry-After (capped), without a failure; an
  account-wide cap (``scope == "provider"``) cools the whole provider down.
- 401/403 cools the whole provider down.
- A provider whose recent error ratio is excessive is cooled down for a while.
- ``probe_due`` lists deployments disabled by health whose cool-down is over; the
  server's prober calls them and re-enables those that answer (``on_enable``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Awaitable, Callable, Iterable, Sequence

from synaxis_core.errors import ProviderAuthError, RateLimited, UpstreamError
from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.routing.table import Deployment, deployment_key, provider_key
from synaxis_core.settings import Settings

log = logging.getLogger("synaxis.health")

DisableHook = Callable[[Deployment, str], Awaitable[None]]

PROVIDER_ERROR_WINDOW_S = 60.0
PROVIDER_ERROR_MIN_CALLS = 10
PROVIDER_ERROR_RATIO = 0.5
PROVIDER_COOLDOWN_S = 30.0
RECENT_WINDOW_S = 60.0
RECENT_MAX = 40
RECENT_MIN = 20


class LatencyWindow:
    """The last ``size`` latencies of one deployment; p95 recomputed every few samples."""

    __slots__ = ("samples", "size", "_next", "_p95", "_dirty")

    def __init__(self, size: int = 200) -> None:
        self.samples: list[float] = []
        self.size = size
        self._next = 0
        self._p95: float | None = None
        self._dirty = 0

    def add(self, ms: float) -> None:
        if len(self.samples) < self.size:
            self.samples.append(ms)
        else:
            self.samples[self._next] = ms
            self._next = (self._next + 1) % self.size
        self._dirty += 1

    @property
    def p95(self) -> float | None:
        if self._dirty and (self._p95 is None or self._dirty >= 10):
            ordered = sorted(self.samples)
            self._p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            self._dirty = 0
        return self._p95


class RecentOutcomes:
    """This instance's last ``RECENT_MAX`` attempts at one deployment within ``RECENT_WINDOW_S``."""

    __slots__ = ("entries", "failed")

    def __init__(self) -> None:
        self.entries: deque[tuple[float, bool]] = deque()
        self.failed = 0

    def add(self, failed: bool) -> None:
        now = time.monotonic()
        entries = self.entries
        entries.append((now, failed))
        self.failed += failed
        cutoff = now - RECENT_WINDOW_S
        while len(entries) > RECENT_MAX or entries[0][0] <= cutoff:
            self.failed -= entries.popleft()[1]

    def mostly_failing(self) -> bool:
        """True unless enough attempts were seen and at most half of them failed."""
        return len(self.entries) < RECENT_MIN or self.failed * 2 > len(self.entries)


class HealthTracker:
    def __init__(
        self,
        backend: StateBackend,
        settings: Settings,
        *,
        on_disable: DisableHook | None = None,
        on_enable: DisableHook | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.on_disable = on_disable
        self.on_enable = on_enable
        self.latency: dict[str, LatencyWindow] = {}
        self.failures: dict[str, int] = {}
        """This instance's last known consecutive failures per deployment (for scoring)."""
        self.recent: dict[str, RecentOutcomes] = {}
        self._local = backend if type(backend) is MemoryBackend else None
        """The backend when it is this process's own plain memory (only this process writes its
        cool-downs, so "none recorded" is known without a call); None for Redis and subclasses."""

    def p95(self, deployment_id: str) -> float | None:
        window = self.latency.get(deployment_id)
        return window.p95 if window is not None else None

    def _recent(self, deployment_id: str) -> RecentOutcomes:
        recent = self.recent.get(deployment_id)
        if recent is None:
            recent = self.recent[deployment_id] = RecentOutcomes()
        return recent

    async def cooldowns(self, deployments: Sequence[Deployment]) -> dict[str, tuple[float, str]]:
        """Cool-downs in force for these deployments or their providers, keyed by backend key."""
        local = self._local
        if local is not None and not local.has_cooldowns():
            return {}  # nothing recorded in this process's backend: skip building the keys
        if len(deployments) == 1:
            return await self.backend.get_cooldowns(deployments[0].cooldown_keys)
        keys: list[str] = []
        for d in deployments:
            keys += d.cooldown_keys
        return await self.backend.get_cooldowns(list(dict.fromkeys(keys)))  # deduplicated, in order

    async def success(self, deployment: Deployment, latency_ms: float) -> None:
        window = self.latency.get(deployment.id)
        if window is None:
            window = self.latency[deployment.id] = LatencyWindow()
        window.add(latency_ms)
        self._recent(deployment.id).add(False)
        self.failures.pop(deployment.id, None)
        dep_key, prov_key = deployment.cooldown_keys  # deployment_key(), provider_key(), made once
        await self.backend.record_outcome(prov_key, True, window_s=PROVIDER_ERROR_WINDOW_S, reset=dep_key)

    async def failure(self, deployment: Deployment, error: UpstreamError | str) -> bool:
        """Account one failed attempt; returns True when it disabled the deployment."""
        if isinstance(error, RateLimited):
            seconds = min(
                error.retry_after if error.retry_after is not None else self.settings.default_retry_after_s,
                self.settings.retry_after_cap_s,
            )
            if error.scope == "provider":  # an account-wide cap (Synthetic's subscription limit)
                key, why = provider_key(deployment.provider_name), f"{deployment.provider_name!r} account rate limit"
            else:
                key, why = deployment_key(deployment.id), "rate limited by the provider"
            await self.backend.set_cooldown(key, seconds, why)
            return False
        if isinstance(error, ProviderAuthError):
            await self.backend.set_cooldown(
                provider_key(deployment.provider_name),
                self.settings.disable_cooldown_s,
                f"provider {deployment.provider_name!r} refused the API key",
            )
            return False
        if isinstance(error, UpstreamError) and error.scope == "request":
            return False
        reason = error if isinstance(error, str) else error.message
        failures, total = await self.backend.record_outcome(
            provider_key(deployment.provider_name), False, window_s=PROVIDER_ERROR_WINDOW_S
        )
        if total >= PROVIDER_ERROR_MIN_CALLS and failures / total > PROVIDER_ERROR_RATIO:
            await self.backend.set_cooldown(
                provider_key(deployment.provider_name),
                PROVIDER_COOLDOWN_S,
                f"{failures} of the last {total} calls to {deployment.provider_name!r} failed",
            )
        recent = self._recent(deployment.id)
        recent.add(True)
        count = await self.backend.incr_failures(deployment_key(deployment.id))
        self.failures[deployment.id] = count
        if count >= self.settings.failure_threshold and deployment.active and recent.mostly_failing():
            await self.disable(deployment, f"{count} consecutive failures, last: {reason}")
            return True
        return False

    async def disable(self, deployment: Deployment, reason: str, *, by: str = "health") -> None:
        deployment.active = False
        deployment.disabled_reason = reason
        deployment.disabled_by = by
        await self.backend.set_cooldown(deployment_key(deployment.id), self.settings.disable_cooldown_s, reason)
        log.warning("disabled deployment %s: %s", deployment.id, reason)
        if self.on_disable is not None:
            await self.on_disable(deployment, reason)

    async def enable(self, deployment: Deployment, *, why: str) -> None:
        """Re-enable ``deployment``; ``why`` goes into the log line ("after a successful probe")."""
        deployment.active = True
        deployment.disabled_reason = None
        deployment.disabled_by = None
        self.failures.pop(deployment.id, None)
        self.recent.pop(deployment.id, None)
        await self.backend.reset_failures(deployment_key(deployment.id))
        await self.backend.clear_cooldown(deployment_key(deployment.id))
        log.warning("re-enabled deployment %s %s", deployment.id, why)
        if self.on_enable is not None:
            await self.on_enable(deployment, "")

    async def probe_due(self, deployments: Iterable[Deployment]) -> list[Deployment]:
        """Deployments disabled by health whose cool-down is over: time to probe them."""
        disabled = [d for d in deployments if not d.active and d.disabled_by == "health"]
        if not disabled:
            return []
        cooling = await self.backend.get_cooldowns([deployment_key(d.id) for d in disabled])
        return [d for d in disabled if deployment_key(d.id) not in cooling]

