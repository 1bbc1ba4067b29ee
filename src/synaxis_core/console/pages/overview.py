"""Overview: today and this month at a glance, 30 days of requests and spend, the top
spenders, and the deployments that cannot serve right now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from synaxis_core.console import summary
from synaxis_core.console.daycache import daily_groups
from synaxis_core.console.pages.common import today
from synaxis_core.console.render import page
from synaxis_core.console.states import deployment_states
from synaxis_core.runtime.gateway import Gateway

CHART_DAYS = 30


@get("/", include_in_schema=False)
async def overview(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    end = today()
    first = end - timedelta(days=CHART_DAYS - 1)
    month = end.replace(day=1)
    groups = await daily_groups(gateway, min(first, month), end + timedelta(days=1))
    states = await deployment_states(gateway)
    return page(
        request, "overview.html", active="overview",
        today=summary.totals(groups, end.isoformat(), end.isoformat()),
        month=summary.totals(groups, month.isoformat()),
        month_name=month.strftime("%B %Y"),
        daily=summary.daily_chart(groups, first, end, title=f"Requests and spend per day, last {CHART_DAYS} days"),
        top_models=summary.top(groups, "model", first_day=month.isoformat()),
        top_tenants=summary.top(groups, "tenant", first_day=month.isoformat()),
        attention=[m for m in states if m["status"] in ("disabled", "cooling")],
        deployments=len(states),
    )
