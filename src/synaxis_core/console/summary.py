"""Folding the ledger's daily groups (``ledger.browse.usage_groups``) into what the pages
show: totals for a span of days, the top spenders, and chart series with every day of
the span present (a day without traffic is a zero, not a gap)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from typing import Any

from synaxis_core.ledger.browse import days_between

Group = dict[str, Any]
OTHERS = "others"


def totals(groups: Iterable[Group], first_day: str = "", last_day: str = "9999-12-31") -> dict[str, float]:
    """Requests, errors, spend and tokens of the groups from ``first_day`` to ``last_day`` (inclusive)."""
    out = {"requests": 0, "errors": 0, "cost_usd": 0.0, "tokens": 0, "prompt_tokens": 0, "completion_tokens": 0}
    for g in groups:
        if first_day <= g["day"] <= last_day:
            out["requests"] += g["requests"]
            out["errors"] += g["errors"]
            out["cost_usd"] += g["cost_usd"]
            out["prompt_tokens"] += g["prompt_tokens"]
            out["completion_tokens"] += g["completion_tokens"]
    out["tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    return out


def top(groups: Iterable[Group], by: str, *, first_day: str = "", limit: int = 5) -> list[dict[str, Any]]:
    """The ``limit`` biggest spenders by ``by`` (``model`` or ``tenant``) from ``first_day`` on:
    ``{name, cost_usd, requests}``, by spend then requests."""
    spend: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for g in groups:
        if g["day"] >= first_day:
            entry = spend[g[by] or "(none)"]
            entry[0] += g["cost_usd"]
            entry[1] += g["requests"]
    ranked = sorted(spend.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    return [{"name": name, "cost_usd": cost, "requests": int(n)} for name, (cost, n) in ranked[:limit]]


def _epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp())


def daily_chart(groups: Sequence[Group], first: date, last: date, *, title: str) -> dict[str, Any]:
    """Requests (bars, left axis) and spend (line, right axis) per day from ``first`` to ``last``."""
    days = days_between(first, last)
    requests = dict.fromkeys(days, 0)
    spend = dict.fromkeys(days, 0.0)
    for g in groups:
        if g["day"] in requests:
            requests[g["day"]] += g["requests"]
            spend[g["day"]] += g["cost_usd"]
    return {
        "title": title,
        "days": days,
        "x": [_epoch(d) for d in days],
        "series": [
            {"label": "Requests", "values": list(requests.values()), "scale": "count", "kind": "bars"},
            {"label": "Spend (USD)", "values": [round(v, 6) for v in spend.values()], "scale": "usd", "kind": "line"},
        ],
    }


def split_chart(
    groups: Sequence[Group], first: date, last: date, *, by: str, measure: str, title: str, limit: int = 5
) -> dict[str, Any]:
    """One line per top ``by`` (model or tenant) of ``measure`` (``cost_usd`` or ``requests``)
    per day, the rest summed as "others"."""
    days = days_between(first, last)
    ranked = defaultdict(float)
    for g in groups:
        ranked[g[by] or "(none)"] += g[measure]
    names = [name for name, _ in sorted(ranked.items(), key=lambda item: (-item[1], item[0]))]
    shown = names[:limit]
    lines: dict[str, dict[str, float]] = {name: dict.fromkeys(days, 0) for name in shown}
    if len(names) > limit:
        lines[OTHERS] = dict.fromkeys(days, 0)
    for g in groups:
        if g["day"] not in days:
            continue
        name = g[by] or "(none)"
        lines[name if name in shown else OTHERS][g["day"]] += g[measure]
    scale = "usd" if measure == "cost_usd" else "count"
    return {
        "title": title,
        "days": days,
        "x": [_epoch(d) for d in days],
        "series": [
            {"label": name, "values": [round(v, 6) for v in per_day.values()], "scale": scale, "kind": "line"}
            for name, per_day in lines.items()
        ],
    }
