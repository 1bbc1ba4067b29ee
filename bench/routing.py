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

``--hot-path`` times instead what a non-streamed request asks of the routing and limits
state, on uvloop as the server runs: ``gate.admit`` -> ``router.plan`` -> the chosen
deployment's own limits -> ``health.success`` -> ``gate.spend``, for a tenant with no
limits and one with an RPM limit (never reached), with the same table and health
history. It prints the sequence's cost per request (the median of ``--runs`` timed
blocks, no timer inside) and each step's median (timed one by one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.limits.tenant import TenantGate
from synaxis_core.plugins import load_extensions
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.routing import health as health_module
from synaxis_core.routing.health import HealthTracker
from synaxis_core.routing.router import Router
from synaxis_core.routing.scoring import RouteRequest
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.settings import Settings
from synaxis_core.tenants import ALL_MODELS, Limit, TenantInfo
from synaxis_core.types import ModelSpec

DEPLOYMENTS = 10_000
GLOBALS = 3_400
PROVIDERS = 50
BUDGET_US = 20.0
ENV = {"SYNAXIS_LOAD_PLUGINS": "", **{f"BENCH_P{i}_API_KEY": "sk-bench" for i in range(PROVIDERS)}}
"""Every provider has its key set, as in production (the router checks it on every request)."""


def build(settings: Settings) -> tuple[Router, HealthTracker, MemoryBackend]:
    providers = [OpenAICompatibleProvider(settings, name=f"p{i}", base_url=f"http://127.0.0.1/{i}/v1",
                                          api_key_env=f"BENCH_P{i}_API_KEY") for i in range(PROVIDERS)]
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
    settings = Settings.from_env(ENV)
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


# --- --hot-path: admit -> plan -> success -> spend ---------------------------------------

HOT_STEPS = ("admit", "plan", "deployment_limits", "success", "spend")


async def hot_block(gate: TenantGate, router: Router, tenant: TenantInfo, request: RouteRequest, n: int) -> float:
    """Nanoseconds per request of ``n`` requests in a row, as ``server/chat.py`` runs them."""
    admit, plan, own_limits, success, spend = gate.admit, router.plan, router._admit, router.health.success, gate.spend
    model = request.model
    start = time.perf_counter_ns()
    for i in range(n):
        scopes = await admit(tenant, model, 276)
        d = (await plan(request))[0]
        await own_limits(d, request)
        await success(d, 100.0 + i % 50)
        await spend(tenant, scopes, 0.0001)
    return (time.perf_counter_ns() - start) / n


async def hot_steps(
    gate: TenantGate, router: Router, tenant: TenantInfo, request: RouteRequest, n: int
) -> dict[str, float]:
    """The median microseconds of each step over ``n`` requests, timed one by one."""
    admit, plan, own_limits, success, spend = gate.admit, router.plan, router._admit, router.health.success, gate.spend
    model, clock = request.model, time.perf_counter_ns
    steps: dict[str, list[float]] = {step: [] for step in HOT_STEPS}
    for i in range(n):
        t0 = clock()
        scopes = await admit(tenant, model, 276)
        t1 = clock()
        d = (await plan(request))[0]
        t2 = clock()
        await own_limits(d, request)
        t3 = clock()
        await success(d, 100.0 + i % 50)
        t4 = clock()
        await spend(tenant, scopes, 0.0001)
        t5 = clock()
        for step, ns in zip(HOT_STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            steps[step].append(ns / 1000)
    return {step: statistics.median(v) for step, v in steps.items()}


async def hot_path(iterations: int, runs: int) -> dict[str, object]:
    settings = Settings.from_env(ENV)
    router, health, backend = build(settings)
    await seed_health(health, router)
    gate = TenantGate(backend)
    model = next(g for g, ds in router.table.by_global.items() if len(ds) == 3)
    request = RouteRequest(model=model, estimated_input_tokens=20, estimated_output_tokens=256, tenant="t")
    tenants = {
        "no_limits": TenantInfo(id=1, name="free", limits={}),
        "one_rpm_limit": TenantInfo(id=2, name="limited", limits={ALL_MODELS: Limit(rpm=10**9)}),
    }
    results: dict[str, object] = {"model": model, "iterations": iterations, "runs": runs}
    for label, tenant in tenants.items():
        await hot_block(gate, router, tenant, request, min(iterations, 2_000))  # warm-up
        per_request = sorted([await hot_block(gate, router, tenant, request, iterations) / 1000 for _ in range(runs)])
        results[label] = {
            "sequence_us": {"median": statistics.median(per_request), "best": per_request[0]},
            "steps_median_us": await hot_steps(gate, router, tenant, request, iterations),
        }
    return results


def print_hot_path(results: dict[str, object]) -> None:
    print(f"admit -> plan -> own limits -> success -> spend on {results['model']!r} (3 deployments); "
          f"{results['runs']} blocks of {results['iterations']:,} requests")
    for label in ("no_limits", "one_rpm_limit"):
        r = results[label]
        seq, steps = r["sequence_us"], r["steps_median_us"]
        print(f"  {label:<14} sequence median {seq['median']:6.2f} us  best {seq['best']:6.2f} us   steps: "
              + "  ".join(f"{step} {us:.2f}" for step, us in steps.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--hot-path", action="store_true", help="time admit -> plan -> success -> spend")
    parser.add_argument("--runs", type=int, default=7, help="--hot-path: timed blocks of --iterations")
    args = parser.parse_args()
    if args.hot_path:
        import uvloop

        hot = uvloop.run(hot_path(args.iterations, args.runs))
        if args.json:
            print(json.dumps(hot))
        else:
            print_hot_path(hot)
        return
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
