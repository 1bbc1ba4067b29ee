"""Throttle failed authentication (admin keys): per client and per key prefix.

A client with ``max_failures`` failed attempts in the last ``window_s`` seconds is refused
before its key is even compared, until its oldest failure leaves the window; so is any
client presenting a key prefix that failed ``max_prefix_failures`` times (guessing spread
over many addresses). The caller answers a refusal with 429 and ``Retry-After``::

    wait = throttle.check(client, prefix)
    if wait is not None: -> 429, Retry-After: wait
    if the key is wrong: throttle.failed(client, prefix) -> 401
    else: throttle.succeeded(client, prefix)

Each failure is logged (``synaxis.auth``, WARNING: the client and a fingerprint of the
prefix, never the key), and so is the moment a client or prefix becomes throttled; the
refused attempts after it are only counted, so a flood writes a bounded number of lines.
``count(outcome)`` is called with ``"failed"`` or ``"throttled"`` for a metric. Memory
is bounded: at most ``max_tracked`` clients and prefixes each (the least recently failed
are forgotten first), each with at most its limit of timestamps. A prefix shared with a
legitimate key can be throttled by someone else's failures: that is why its limit is
higher than a client's.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict, deque
from typing import Callable

log = logging.getLogger("synaxis.auth")


class _Failures:
    """Failure times per name (LRU-bounded), each a deque of at most ``limit`` entries."""

    def __init__(self, limit: int, window_s: float, max_tracked: int) -> None:
        self.limit, self.window_s, self.max_tracked = limit, window_s, max_tracked
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, name: str, now: float) -> float | None:
        times = self._times.get(name)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[name]
            return None
        return times[0] + self.window_s - now if len(times) >= self.limit else None

    def add(self, name: str, now: float) -> bool:
        """Record a failure; True when it is the one that reaches the limit."""
        times = self._times.get(name)
        if times is None:
            times = self._times[name] = deque(maxlen=self.limit)
            if len(self._times) > self.max_tracked:
                self._times.popitem(last=False)
        else:
            self._times.move_to_end(name)
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return len(times) == self.limit

    def forget(self, name: str) -> None:
        self._times.pop(name, None)

    def __len__(self) -> int:
        return len(self._times)


class AuthThrottle:
    """See the module docstring. Synchronous and in-process (per gateway process)."""

    def __init__(
        self,
        *,
        max_failures: int = 10,
        window_s: float = 60.0,
        max_prefix_failures: int | None = None,
        max_tracked: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        count: Callable[[str], None] | None = None,
        what: str = "admin",
    ) -> None:
        if max_failures < 1 or window_s <= 0 or max_tracked < 1:
            raise ValueError("max_failures and max_tracked must be >= 1, window_s > 0")
        self.window_s = window_s
        self._clients = _Failures(max_failures, window_s, max_tracked)
        self._prefixes = _Failures(max_prefix_failures or 10 * max_failures, window_s, max_tracked)
        self._clock = clock
        self._count = count
        self._what = what

    def check(self, client: str, key_prefix: str | None = None) -> float | None:
        """Seconds until ``client`` (presenting ``key_prefix``) may try again; None: now."""
        now = self._clock()
        waits = [self._clients.wait(client, now)]
        if key_prefix:
            waits.append(self._prefixes.wait(key_prefix, now))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None and self._count is not None:
            self._count("throttled")
        return wait

    def failed(self, client: str, key_prefix: str | None = None) -> None:
        """Count a failed attempt (and log it, without the key)."""
        now = self._clock()
        fingerprint = _fingerprint(key_prefix)
        log.warning("failed %s authentication from %s (key %s)", self._what, client, fingerprint)
        if self._clients.add(client, now):
            log.warning(
                "%s authentication from %s throttled: %d failures in %gs",
                self._what, client, self._clients.limit, self.window_s,
            )
        if key_prefix and self._prefixes.add(key_prefix, now):
            log.warning(
                "%s authentication with key %s throttled for every client: %d failures in %gs",
                self._what, fingerprint, self._prefixes.limit, self.window_s,
            )
        if self._count is not None:
            self._count("failed")

    def succeeded(self, client: str, key_prefix: str | None = None) -> None:
        """A correct key: forget the client's (and the prefix's) failures."""
        self._clients.forget(client)
        if key_prefix:
            self._prefixes.forget(key_prefix)

    def tracked(self) -> int:
        """Clients and prefixes currently remembered (bounded by ``2 * max_tracked``)."""
        return len(self._clients) + len(self._prefixes)


def _fingerprint(key_prefix: str | None) -> str:
    """A short, stable, non-reversible tag for a key prefix (the prefix may be secret)."""
    if not key_prefix:
        return "-"
    return "#" + hashlib.sha256(key_prefix.encode("utf-8", "replace")).hexdigest()[:8]
