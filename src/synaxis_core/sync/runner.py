"""The sync runner: one round under the one-syncer lock, and the schedule that repeats it.

``run_round`` is what ``synaxis sync`` and ``POST /admin/sync`` call: it takes the sync
lock (``sync.lock``), runs the targets in order (providers, catalog, discover) and
returns one ``SyncReport`` per source. When another runner holds the lock it returns a
single report with source ``"lock"``, ``skipped=1`` and a note, and syncs nothing.

``run_schedule`` keeps running: the catalog every ``settings.catalog_interval_s``
(default daily), discovery every ``settings.discover_interval_s`` (hourly), the
installed providers once at the start. Each due target runs under the lock on its own;
one that fails is logged and retried after ``min(interval, FAILED_RETRY_S)`` while the
others go on. A round skipped because another runner syncs waits for its next regular
turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from synaxis_core.plugins import Extensions
from synaxis_core.providers.http import create_client
from synaxis_core.settings import Settings
from synaxis_core.sync.catalog import sync_catalog
from synaxis_core.sync.discover import discover_models
from synaxis_core.sync.lock import describe, lock_kind, sync_lock
from synaxis_core.sync.providers import sync_providers
from synaxis_core.sync.report import SyncReport

log = logging.getLogger(__name__)

TARGETS: tuple[str, ...] = ("providers", "catalog", "discover")
SCHEDULED: tuple[str, ...] = ("catalog", "discover")
LOCKED_SOURCE = "lock"
FAILED_RETRY_S = 300.0
"""A failed round is retried after this long (or its interval, when shorter)."""

Progress = Callable[[str], None]
OnReports = Callable[[list[SyncReport]], Awaitable[None] | None]


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a session factory is bound to (the lock needs its own connection)."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("run_round needs a session factory bound to an AsyncEngine")
    return engine


def skipped_report(settings: Settings, engine: AsyncEngine) -> SyncReport:
    kind = describe(lock_kind(settings, engine))
    return SyncReport(
        source=LOCKED_SOURCE,
        skipped=1,
        notes=[f"another runner is syncing (it holds the {kind}); skipped this round"],
    )


def was_skipped(reports: Sequence[SyncReport]) -> bool:
    """Whether a round's reports say that another runner held the lock."""
    return len(reports) == 1 and reports[0].source == LOCKED_SOURCE


async def run_round(
    settings: Settings,
    ext: Extensions,
    sessions: async_sessionmaker[AsyncSession],
    targets: Iterable[str] = TARGETS,
    *,
    progress: Progress | None = None,
) -> list[SyncReport]:
    """One sync round of ``targets`` (any of providers, catalog, discover) under the lock.

    :param settings: intervals, the Redis URL (lock), HTTP timeouts.
    :param ext: the installed providers and catalogs.
    :param sessions: the session factory of the registry database.
    :param targets: what to sync; run in the order of ``TARGETS`` whatever the order given.
    :param progress: called with a short message as each step starts.
    :returns: one report per source, or a single ``"lock"`` report when another runner
        holds the lock. Errors of a catalog or a provider are in the reports; a database
        error propagates.
    """
    wanted = set(targets)
    unknown = wanted - set(TARGETS)
    if unknown:
        raise ValueError(f"unknown sync targets {sorted(unknown)}; expected some of {TARGETS}")
    say = progress or (lambda _message: None)
    engine = engine_of(sessions)
    async with sync_lock(settings, engine) as held:
        if not held:
            report = skipped_report(settings, engine)
            log.info("sync round skipped: %s", report.notes[0])
            return [report]
        reports: list[SyncReport] = []
        if "providers" in wanted:
            say("providers: writing the installed models")
            reports.append(await sync_providers(sessions, ext))
        if "catalog" in wanted:
            client = create_client(settings, timeout_s=settings.timeout_s)
            try:
                reports.extend(await sync_catalog(sessions, ext, client, progress=say))
            finally:
                await client.aclose()
        if "discover" in wanted:
            reports.extend(await discover_models(sessions, ext, progress=say))
        return reports


async def run_schedule(
    settings: Settings,
    ext: Extensions,
    sessions: async_sessionmaker[AsyncSession],
    targets: Iterable[str] = TARGETS,
    *,
    stop: asyncio.Event | None = None,
    on_reports: OnReports | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run rounds until ``stop`` is set: each scheduled target when its interval is due.

    :param targets: ``providers`` runs once, in the first round; ``catalog`` and
        ``discover`` repeat every ``settings.catalog_interval_s`` /
        ``settings.discover_interval_s``.
    :param stop: set it to end the loop (after the round in progress).
    :param on_reports: called with the reports of every round that ran (or was skipped).
    """
    stop = stop or asyncio.Event()
    wanted = [t for t in TARGETS if t in set(targets)]
    intervals = {"catalog": settings.catalog_interval_s, "discover": settings.discover_interval_s}
    due = {t: clock() for t in wanted}
    while not stop.is_set():
        now = clock()
        ready = [t for t in wanted if t in due and due[t] <= now]
        if ready:
            reports = await _scheduled_round(settings, ext, sessions, ready, due, intervals, clock, progress)
            if reports and on_reports is not None:
                try:
                    result = on_reports(reports)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # a broken printer must not stop the syncing
                    log.exception("the sync report callback failed")
        if not due:
            return
        wait = max(0.0, min(due.values()) - clock())
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            pass


async def _scheduled_round(
    settings: Settings,
    ext: Extensions,
    sessions: async_sessionmaker[AsyncSession],
    ready: list[str],
    due: dict[str, float],
    intervals: dict[str, float],
    clock: Callable[[], float],
    progress: Progress | None,
) -> list[SyncReport]:
    """Run the due targets one by one, so that one failing does not hold back the others."""
    reports: list[SyncReport] = []
    for position, target in enumerate(ready):
        try:
            done = await run_round(settings, ext, sessions, [target], progress=progress)
        except Exception:
            log.exception("sync of %s failed; it is retried later", target)
            _plan(due, [target], intervals, clock(), failed=True)
            continue
        if was_skipped(done):  # another runner syncs: wait for the next regular turn
            _plan(due, ready[position:], intervals, clock(), failed=False)
            return reports + done
        _plan(due, [target], intervals, clock(), failed=False)
        reports.extend(done)
    return reports


def _plan(due: dict[str, float], ran: list[str], intervals: dict[str, float], now: float, *, failed: bool) -> None:
    """Set the next due time of the targets that just ran (providers: once, until it works)."""
    for target in ran:
        interval = intervals.get(target)
        if interval is None and not failed:
            due.pop(target, None)
        elif interval is None:
            due[target] = now + FAILED_RETRY_S
        else:
            due[target] = now + (min(interval, FAILED_RETRY_S) if failed else interval)
