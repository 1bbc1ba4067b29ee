"""Each deployment's state right now, as the console shows it: the registry row
(``Gateway.models``) with this instance's live health (cool-downs from the state backend,
shared by every instance with Redis; failures and p95 latency) folded into one status."""

from __future__ import annotations

from typing import Any

from synaxis_core.routing.table import deployment_key, provider_key
from synaxis_core.runtime.gateway import Gateway

STATUSES = {
    "active": "Active",
    "disabled": "Disabled",
    "unavailable": "Not listed by the provider",
    "cooling": "Cooling down",
}


async def cooldowns(gateway: Gateway) -> dict[str, tuple[float, str]]:
    """Cool-downs in force for the routing table's deployments and providers, by backend key."""
    deployments = list(gateway.router.table.by_id.values())
    return await gateway.health.cooldowns(deployments) if deployments else {}


async def deployment_states(gateway: Gateway) -> list[dict[str, Any]]:
    """Every deployment of the registry with ``status`` (a key of ``STATUSES``),
    ``status_detail`` (who disabled it and why, or why it cools down), ``cooling_s``,
    ``failures`` and ``p95`` added."""
    models = await gateway.models()
    cooling = await cooldowns(gateway)
    health = gateway.health
    for m in models:
        own = cooling.get(deployment_key(m["id"]))
        whole = cooling.get(provider_key(m["provider"]))
        cool = own or whole
        m["cooling_s"] = cool[0] if cool else None
        m["failures"] = health.failures.get(m["id"], m["consecutive_failures"] or 0)
        m["p95"] = health.p95(m["id"]) or m["p95_latency_ms"]
        if not m["active"]:
            m["status"] = "disabled"
            who = m["disabled_by"] or "unknown"
            m["status_detail"] = f"by {who}: {m['disabled_reason'] or 'no reason given'}"
        elif not m["is_available"]:
            m["status"] = "unavailable"
            m["status_detail"] = "not listed by the provider at the last discovery"
        elif cool:
            m["status"] = "cooling"
            scope = "the deployment" if own else f"the whole provider {m['provider']}"
            m["status_detail"] = f"{scope}: {cool[1]}"
        else:
            m["status"] = "active"
            m["status_detail"] = ""
    return models
