"""Micro-benchmark: one routing decision with 10,000 provider models registered.

Run: ``python bench/routing.py [--iterations N] [--json]``. Builds a ``RoutingTable`` of
10,000 ``Deployment``s (50 providers, 3,400 global models: 3,200 served by three
deployments, 200 by two), a ``Router`` with the built-in scorers (loaded
through the plugin manager, as the gateway does) and a ``MemoryBackend``-based
``HealthTracker`` with latency history for every deployment, then times
``await router.plan(RouteRequest(...))``, one call at a time, for:

* a global id served by three deployments (the usual case; budget: <= 20 us median);
* the same with 100 unrelated cool-downs in force (the backend's fast path is off);
* a pinned provider-model id (one candidate, no ranking).

Prints median, p99 and mean in microseconds. Exit status 1 when the first median is
over the budget.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.plugins import load_extensions
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.routing import health as health_module
from synaxis_core.routing.health import HealthTracker
from synaxis_core.routing.router import Router
from synaxis_core.routing.scoring import RouteRequest
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.settings import Settings
from synaxis_core.types import ModelSpec

DEPLOYMENTS = 10_000
GLOBALS = 3_400
PROVIDERS = 50
BUDGET_US = 20.0


def build(settings: Settings) -> tuple[Router, HealthTracker, MemoryBackend]:
    providers = [OpenAICompatibleProvider(settings, name=f"p{i}", base_url=f"http://127.0.0.1/{i}/v1")
                 for i in range(PROVIDERS)]
    deployments = []
    for n in range(DEPLOYMENTS):
        g = n % GLOBALS  # 3,200 global models get three deployments, 200 get two
        provider = providers[n % PROVIDERS]
        spec = ModelSpec(
            id=f"m{n}-{provider.name}", upstream_id=f"org/model-{g}", global_id=f"global-{g}",
            input_price=0.1 + (n % 7) * 0.05, output_price=0.4 + (n % 5) * 0.1,
            context_window=131_072, is_premium=n % 11 == 0,
        )
        deployments.append(Deployment(id=spec.id, provider=provider, spec=spec))
    backend = MemoryBackend()
    health = HealthTracker(backend, settings)
    ext = load_extensions(settings)
    router = Router(RoutingTable(deployments, version="bench"), list(ext.scorers.values()), health, backend,
                    weights=settings.scorer_weights)
    return router, health, backend


async def seed_health(health: HealthTracker, router: Router) -> None:
    for i, d in enumerate(router.table.by_id.values()):
        for k in range(20):
            await health.success(d, 100.0 + (i + k) % 50)


async def timed(router: Router, request: RouteRequest, iterations: int) -> list[float]:
    plan = router.plan
    for _ in range(min(iterations, 2_000)):  # warm-up
        await plan(request)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        await plan(request)
        samples.append((clock() - start) / 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_us": statistics.median(ordered), "p99_us": ordered[int(len(ordered) * 0.99)],
            "mean_us": statistics.fmean(ordered)}


async def run(iterations: int) -> dict[str, object]:
    settings = Settings.from_env({"SYNAXIS_LOAD_PLUGINS": ""})
    router, health, backend = build(settings)
    await seed_health(health, router)
    table = router.table
    model = next(g for g, ds in table.by_global.items() if len(ds) == 3)
    sizes = statistics.multimode(len(ds) for ds in table.by_global.values())
    results: dict[str, object] = {
        "deployments": len(table), "global_models": len(table.by_global),
        "deployments_per_global_mode": sizes[0], "model": model,
    }
    request = RouteRequest(model=model, estimated_input_tokens=20, estimated_output_tokens=256)
    results["global_3_candidates"] = summary(await timed(router, request, iterations))
    others = [d for d in table.by_id.values() if d.spec.global_id != model][:100]
    for d in others:
        await backend.set_cooldown(health_module.deployment_key(d.id), 3600, "bench")
    results["global_3_candidates_with_cooldowns"] = summary(await timed(router, request, iterations))
    pinned = RouteRequest(model=table.by_global[model][0].id, estimated_input_tokens=20)
    results["pinned"] = summary(await timed(router, pinned, iterations))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    results = asyncio.run(run(args.iterations))
    if args.json:
        print(json.dumps(results))
    else:
        print(f"{results['deployments']:,} deployments, {results['global_models']:,} global models; "
              f"{args.iterations:,} decisions per case")
        for case in ("global_3_candidates", "global_3_candidates_with_cooldowns", "pinned"):
            s = results[case]
            print(f"  {case:<36} median {s['median_us']:6.2f} us   p99 {s['p99_us']:6.2f} us   "
                  f"mean {s['mean_us']:6.2f} us")
        verdict = "PASS" if results["global_3_candidates"]["median_us"] <= BUDGET_US else "FAIL"
        print(f"  budget: median <= {BUDGET_US:g} us with three candidates: {verdict}")
    sys.exit(0 if results["global_3_candidates"]["median_us"] <= BUDGET_US else 1)


if __name__ == "__main__":
    main()
