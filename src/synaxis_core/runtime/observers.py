"""Observers: every finished request's record, handed to plugins off the request path.

An ``Observer`` (hook ``register_observers``; the contract is in ``runtime.observed``,
re-exported here) has a ``name``, an ``async observe(records)`` and optionally an
``async aclose()``. ``Accounting.record`` hands each request's ledger
row to ``ObserverDispatcher.submit``, which never waits: it appends the row (and the
request, whose bodies the pipeline kept when ``SYNAXIS_OBSERVE_BODIES`` is on) to each
observer's own queue. One background task per observer takes the queue in batches
(``observe_batch_size`` records, or what waits ``observe_flush_interval_s`` after the
first), builds the ``ObservedRequest``s (a stream's chunks assembled into one chat
completion: work kept off the request path) and awaits ``observe`` within
``observe_timeout_s``.

What can go wrong stays here: a call that raises or times out is logged and counted
(``synaxis_observer_failures_total``; its records ``outcome="failed"``) and the next
batch goes on; a queue that is full (``observe_queue_max``: an observer slower than the
traffic, or stuck) drops its oldest record for each new one, counted
(``outcome="dropped"``) and logged once per run of drops, so memory stays bounded. Each
observer has its own queue and task: a slow one never holds up another. At shutdown
(``aclose``) each task delivers what is queued within ``observe_timeout_s``, then the
observers' ``aclose`` run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING, Iterable

from synaxis_core.runtime.observed import Observer, ObservedRequest, observed

if TYPE_CHECKING:
    from synaxis_core.ledger.writer import UsageEntry
    from synaxis_core.runtime.accounting import RequestRecord
    from synaxis_core.runtime.metrics import Metrics
    from synaxis_core.settings import Settings

__all__ = ["Observer", "ObservedRequest", "ObserverDispatcher"]

log = logging.getLogger("synaxis.observers")


class _Lane:
    """One observer's queue, its task and its counts."""

    def __init__(self, observer: Observer, dispatcher: ObserverDispatcher) -> None:
        self.observer = observer
        self.name = observer.name
        self.d = dispatcher
        self.queue: deque[tuple[UsageEntry, RequestRecord]] = deque()
        self.wake = asyncio.Event()
        self.closing = False
        self.task: asyncio.Task[None] | None = None
        self.delivered = self.failed = self.dropped = 0
        self.dropping = 0  # drops since the last delivery (0: none, nothing to report)
        self.failing = 0  # failed calls in a row
        metrics = dispatcher.metrics
        self._count = (lambda outcome, n: metrics.observer_records.labels(self.name, outcome).inc(n)) if metrics else None
        self._fail = (lambda reason: metrics.observer_failures.labels(self.name, reason).inc()) if metrics else None

    def drop_oldest(self) -> None:
        self.queue.popleft()
        self.dropped += 1
        self.dropping += 1
        if self._count is not None:
            self._count("dropped", 1)
        if self.dropping == 1:
            log.warning("observer %r is %d records behind: dropping the oldest (SYNAXIS_OBSERVE_QUEUE_MAX)",
                        self.name, len(self.queue) + 1)

    def lose(self, count: int, what: str) -> None:
        """``count`` records that will never be delivered, at shutdown: counted as dropped."""
        log.warning("observer %r %s %d records", self.name, what, count)
        self.dropped += count
        if self._count is not None:
            self._count("dropped", count)

    async def run(self) -> None:
        d, queue = self.d, self.queue
        while True:
            if not queue:
                if self.closing:
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            if len(queue) < d.batch_size and not self.closing:  # wait a little for a fuller batch
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(d.flush_interval_s):
                        await self.wake.wait()
            batch = [queue.popleft() for _ in range(min(d.batch_size, len(queue)))]
            await self.deliver(batch)

    async def deliver(self, batch: list[tuple[UsageEntry, RequestRecord]]) -> None:
        try:
            records = [observed(entry, record) for entry, record in batch]
            async with asyncio.timeout(self.d.timeout_s):
                await self.observer.observe(records)
        except asyncio.CancelledError:  # shut down before it finished: the batch is lost
            self.lose(len(batch), "was cancelled at shutdown with")
            raise
        except Exception as exc:  # noqa: BLE001 - an observer's failure is its own: logged, counted
            reason = "timeout" if isinstance(exc, TimeoutError) else "error"
            self.failed += len(batch)
            self.failing += 1
            if self._count is not None:
                self._count("failed", len(batch))
                self._fail(reason)  # type: ignore[misc]
            log.warning("observer %r failed on a batch of %d records (%s): %s", self.name, len(batch), reason,
                        exc or type(exc).__name__, exc_info=self.failing == 1)
            return
        self.delivered += len(batch)
        if self._count is not None:
            self._count("delivered", len(batch))
        if self.failing or self.dropping:
            log.warning("observer %r delivers again (%d failed calls and %d dropped records before)",
                        self.name, self.failing, self.dropping)
        self.failing = self.dropping = 0


class ObserverDispatcher:
    """Hands every finished request to the observers, off the request path."""

    def __init__(
        self,
        observers: Iterable[Observer],
        *,
        queue_max: int = 10_000,
        batch_size: int = 100,
        flush_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        bodies: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self.bodies = bodies
        """Whether the records carry the request and response bodies (the pipeline keeps them)."""
        self.queue_max, self.batch_size = queue_max, batch_size
        self.flush_interval_s, self.timeout_s = flush_interval_s, timeout_s
        self.metrics = metrics
        self.lanes = [_Lane(observer, self) for observer in observers]

    @classmethod
    def from_settings(
        cls, observers: Iterable[Observer], settings: Settings, metrics: Metrics | None = None
    ) -> ObserverDispatcher | None:
        """The dispatcher of ``observers`` with the ``observe_*`` settings; None when there is none."""
        observers = list(observers)
        if not observers:
            return None
        return cls(
            observers, queue_max=settings.observe_queue_max, batch_size=settings.observe_batch_size,
            flush_interval_s=settings.observe_flush_interval_s, timeout_s=settings.observe_timeout_s,
            bodies=settings.observe_bodies, metrics=metrics,
        )

    def lane(self, name: str) -> _Lane:
        return next(lane for lane in self.lanes if lane.name == name)

    def submit(self, entry: UsageEntry, record: RequestRecord) -> None:
        """Queue one finished request for every observer; never waits, never raises."""
        item = (entry, record)
        for lane in self.lanes:
            queue = lane.queue
            if len(queue) >= self.queue_max:
                lane.drop_oldest()
            queue.append(item)
            if len(queue) == 1 or len(queue) >= self.batch_size:
                lane.wake.set()

    def start(self) -> None:
        """Start one task per observer (in the running event loop)."""
        for lane in self.lanes:
            if lane.task is None:
                lane.task = asyncio.create_task(lane.run(), name=f"synaxis-observer-{lane.name}")

    async def aclose(self) -> None:
        """Deliver what is queued (within ``timeout_s``), then close the observers."""
        for lane in self.lanes:
            lane.closing = True
            lane.wake.set()
        tasks = [lane.task for lane in self.lanes if lane.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self.lanes:
            if lane.queue:
                lane.lose(len(lane.queue), "did not take by shutdown")
                lane.queue.clear()
            close = getattr(lane.observer, "aclose", None)
            if close is not None:
                try:
                    async with asyncio.timeout(self.timeout_s):
                        await close()
                except Exception:  # noqa: BLE001
                    log.exception("closing observer %r failed", lane.name)
