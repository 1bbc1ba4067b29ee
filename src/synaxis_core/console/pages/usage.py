"""Usage: by day, tenant and model, as charts and as a table, and the same as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Response, Template

from synaxis_core.console import summary
from synaxis_core.console.daycache import daily_groups
from synaxis_core.console.pages.common import day, last_days, text
from synaxis_core.console.render import SECURITY_HEADERS, page
from synaxis_core.errors import InvalidRequest
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.tenants.service import list_tenants

DEFAULT_DAYS = 30
MAX_DAYS = 366
CSV_COLUMNS = ("day", "tenant", "model", "requests", "errors", "prompt_tokens", "completion_tokens", "cost_usd")


def _span(query: Any) -> tuple[date, date]:
    first, last = last_days(DEFAULT_DAYS)
    first, last = day(query, "since") or first, day(query, "until") or last
    if last < first:
        raise InvalidRequest("until must not be before since")
    if (last - first).days >= MAX_DAYS:
        raise InvalidRequest(f"at most {MAX_DAYS} days at a time")
    return first, last


async def _groups(gateway: Gateway, query: Any) -> tuple[date, date, list[dict[str, Any]]]:
    first, last = _span(query)
    groups = await daily_groups(gateway, first, last + timedelta(days=1),
                                tenant=text(query, "tenant"), model=text(query, "model"))
    return first, last, groups


@get("/usage", include_in_schema=False)
async def usage_page(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    query = request.query_params
    filters = {"tenant": text(query, "tenant") or "", "model": text(query, "model") or ""}
    tenants = [t["name"] for t in await list_tenants(gateway.sessions)]
    try:
        first, last, groups = await _groups(gateway, query)
    except InvalidRequest as exc:
        first, last = last_days(DEFAULT_DAYS)
        return page(request, "usage.html", active="usage", error=str(exc), groups=[], charts=[], tenants=tenants,
                    since=first, until=last, total=summary.totals([]), csv_query=request.url.query, **filters)
    charts = [
        summary.split_chart(groups, first, last, by="model", measure="cost_usd", title="Spend per day by model (USD)"),
        summary.split_chart(groups, first, last, by="tenant", measure="requests", title="Requests per day by tenant"),
    ]
    return page(request, "usage.html", active="usage", groups=groups, charts=charts, tenants=tenants,
                since=first, until=last, total=summary.totals(groups), csv_query=request.url.query, **filters)


@get("/usage.csv", include_in_schema=False)
async def usage_csv(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Response[bytes]:
    first, last, groups = await _groups(gateway, request.query_params)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for g in groups:
        writer.writerow([g["day"], g["tenant"] or "", g["model"], g["requests"], g["errors"],
                         g["prompt_tokens"], g["completion_tokens"], f"{g['cost_usd']:.6f}"])
    name = f"synaxis-usage-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(out.getvalue().encode(), media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS, "content-disposition": f'attachment; filename="{name}"'})
