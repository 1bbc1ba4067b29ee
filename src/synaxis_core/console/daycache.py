"""The ledger's daily groups with the closed days remembered, day by day.

A day that ended (more than ``GRACE_S`` ago, for the ledger writer's last batch) does not
change any more, so the overview and the usage page query only today on each visit and
the days before it only once: each closed day's groups are kept in memory (per gateway
and filters, for ``TTL_S``: rows imported into the past show up within a day; at most
``MAX_DAYS`` day entries, least recently used out first). Days missing from the cache
are fetched in one query over their span. A month of a 10-million-row ledger is scanned
on the first visit, not on every page view, and a new day or another span costs only the
days not seen yet.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone
from typing import Any

from synaxis_core.ledger.browse import usage_groups
from synaxis_core.runtime.gateway import Gateway

TTL_S = 86400.0
GRACE_S = 300.0
MAX_DAYS = 4096

Key = tuple[date, str | None, str | None]
_caches: weakref.WeakKeyDictionary[Gateway, OrderedDict[Key, tuple[float, list[dict[str, Any]]]]] = (
    weakref.WeakKeyDictionary()
)


def _closed_before(now: datetime) -> date:
    """The first day that may still change."""
    return (now - timedelta(seconds=GRACE_S)).date()


async def daily_groups(
    gateway: Gateway, first: date, end: date, *, tenant: str | None = None, model: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``ledger.browse.usage_groups`` from day ``first`` up to day ``end`` (exclusive), oldest first."""
    open_from = max(first, min(end, _closed_before(now or datetime.now(timezone.utc))))
    cache = _caches.setdefault(gateway, OrderedDict())
    clock = time.monotonic()
    days = [first + timedelta(days=n) for n in range((open_from - first).days)]
    missing = []
    for day in days:
        hit = cache.get((day, tenant, model))
        if hit is None or hit[0] <= clock:
            missing.append(day)
    if missing:
        fetched = await usage_groups(gateway.sessions, missing[0], missing[-1] + timedelta(days=1),
                                     tenant=tenant, model=model)
        by_day: dict[str, list[dict[str, Any]]] = {}
        for group in fetched:
            by_day.setdefault(group["day"], []).append(group)
        for day in days[days.index(missing[0]):days.index(missing[-1]) + 1]:
            cache[(day, tenant, model)] = (clock + TTL_S, by_day.get(day.isoformat(), []))
    rows: list[dict[str, Any]] = []
    for day in days:
        cache.move_to_end((day, tenant, model))
        rows += cache[(day, tenant, model)][1]
    while len(cache) > MAX_DAYS:
        cache.popitem(last=False)
    if open_from < end:
        rows += await usage_groups(gateway.sessions, open_from, end, tenant=tenant, model=model)
    return rows
