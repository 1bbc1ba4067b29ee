"""The gateway benchmark (``make bench``): upstream, the floor, minimal proxies and Synaxis, one run.

Needs nginx, wrk and py-spy: ``bash bench/setup.sh`` installs them. Then::

    .venv/bin/python bench/run.py            # ~10 s per point, slow streams, micro-benchmarks
    .venv/bin/python bench/run.py --quick    # ~3 s per point, slow streams at 5,000 only
    .venv/bin/python bench/run.py --profile  # also py-spy on Synaxis at 32 clients (JSON and streams)
    .venv/bin/python bench/run.py --memory   # 100,000 requests, RSS every 10,000

nginx (the upstream) answers a fixed completion with inline ``<think>`` reasoning and
``usage``, or a fixed SSE stream of 23 events (20 deltas, finish, usage, ``[DONE]``). The
processes measured in turn, each pinned to CPU 0 while nginx and wrk run on CPU 1:
nginx itself (its worker moved to CPU 0 for that row), ``harness/bare_proxy.py`` (a bare
ASGI app on pyreqwest under uvicorn with uvloop and httptools: the floor every ratio is
taken against), ``harness/minimal_proxy.py`` (Litestar + aiohttp, and Litestar +
pyreqwest: context) and ``synaxis serve`` with its full pipeline (auth, routing over
three deployments, tenant limits on the memory backend, think-tag post-processing,
ledger on SQLite). For each: requests/s at 1, 32 and 128 clients, whole streams/s at 32
clients, stream time to first byte, CPU per request and per stream. Then
``slow_streams.py`` (1,000 / 5,000 / 10,000 concurrent slow streams through the floor
and Synaxis). Results go to ``bench/results/<timestamp>.json``; exit status 1 when a
budget line fails.

Think tags: the config-file format has no key that turns a post-processor on, so by
default the bench loads the ``synthetic`` plugin (its stripper applies to ``*-syn`` ids
with ``reasoning = true``) and names the deployments ``bench-a-syn``...; the synthetic
provider itself has no key and serves nothing. ``--no-think-tags``: built-ins only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import nginx, procs, profile, report, synaxis_target, ttfb, wrk
from harness.fixtures import ANSWER, request_body
from harness.report import BUDGET, FLOOR, SAME_CLIENT

UNDER_TEST, LOAD = "0", "1"
RESULTS = HERE / "results"


class Target:
    def __init__(self, name: str, port: int, proc: subprocess.Popen, pid: int, token: str | None = None) -> None:
        self.name, self.port, self.proc, self.pid, self.token = name, port, proc, pid, token


def measure(target: Target, args: argparse.Namespace, root: Path, load_pids: list[int]) -> dict:
    script = wrk.write_script(root / f"{target.name}.lua", request_body(), target.token)
    wrk.run(target.port, script, 32, args.warmup, LOAD)
    row: dict = {"points": {}}
    for connections in args.connections:
        before, contention = procs.cpu_seconds(target.pid), procs.Contention(target.pid, load_pids, UNDER_TEST, LOAD)
        threads_before = procs.thread_cpu_seconds(target.pid)
        point = wrk.run(target.port, script, connections, args.seconds, LOAD)
        point["cpu_us_per_req"] = (procs.cpu_seconds(target.pid) - before) / max(point["requests"], 1) * 1e6
        point["cpu_us_per_req_by_thread"] = {
            name: round((seconds - threads_before.get(name, 0.0)) / max(point["requests"], 1) * 1e6, 1)
            for name, seconds in procs.thread_cpu_seconds(target.pid).items()
        }
        point["other_cpu0_pct"], point["other_cpu1_pct"] = contention.percent()
        if point["other_cpu0_pct"] > 10 or point["other_cpu1_pct"] > 15:
            print(f"  warning: other processes used {point['other_cpu0_pct']:.0f}% of CPU {UNDER_TEST} and "
                  f"{point['other_cpu1_pct']:.0f}% of CPU {LOAD}: the machine is busy, figures are noisy",
                  file=sys.stderr)
        row["points"][str(connections)] = point
        if point["errors"]:
            print(f"  warning: {target.name} at {connections} clients: {point['errors']} errors", file=sys.stderr)
        threads = ", ".join(f"{n} {us:.0f}" for n, us in point["cpu_us_per_req_by_thread"].items() if us >= 1)
        print(f"  {target.name:<9} {connections:>3} clients: {point['rps']:8.0f} req/s  "
              f"p50 {point['p50_ms']:6.2f} ms  p99 {point['p99_ms']:6.2f} ms  "
              f"cpu {point['cpu_us_per_req']:5.0f} us/req ({threads})", flush=True)
    row["stream"] = stream_point(target, args, root, load_pids)
    row.update(ttfb.measure(target.port, request_body(stream=True).encode(), target.token, n=args.ttfb_requests))
    row["peak_rss_mb"] = procs.memory_mb(target.pid, "VmHWM")
    row["rss_mb"] = procs.memory_mb(target.pid)
    return row


def stream_point(target: Target, args: argparse.Namespace, root: Path, load_pids: list[int]) -> dict:
    """Whole streams (23 events each) per second at 32 clients, and CPU per stream."""
    script = wrk.write_script(root / f"{target.name}-stream.lua", request_body(stream=True), target.token, stream=True)
    wrk.run(target.port, script, 32, 1, LOAD)
    before, contention = procs.cpu_seconds(target.pid), procs.Contention(target.pid, load_pids, UNDER_TEST, LOAD)
    point = wrk.run(target.port, script, 32, args.seconds, LOAD)
    point["cpu_us_per_req"] = (procs.cpu_seconds(target.pid) - before) / max(point["requests"], 1) * 1e6
    point["other_cpu0_pct"], point["other_cpu1_pct"] = contention.percent()
    print(f"  {target.name:<9}  32 clients: {point['rps']:8.0f} whole streams/s  p50 {point['p50_ms']:6.2f} ms  "
          f"p99 {point['p99_ms']:6.2f} ms  cpu {point['cpu_us_per_req']:5.0f} us/stream"
          + (f"  {point['errors']} errors" if point["errors"] else ""), flush=True)
    return point


def check_synaxis(port: int, token: str, think: bool) -> None:
    """One request by hand: 200, and the reasoning moved out of the answer when on."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=request_body().encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
        headers = dict(response.headers)
    message = body["choices"][0]["message"]
    print(f"  synaxis answered via {headers.get('x-synaxis-model')}: content={message['content']!r}, "
          f"reasoning {'separated' if 'reasoning_content' in message else 'left inline'}")
    if think and message["content"] != ANSWER:
        raise SystemExit("the think-tag post-processor did not run on the bench deployments")


PROXIES = ((FLOOR, "bare_proxy.py", ()), ("minimal proxy", "minimal_proxy.py", ("aiohttp",)),
           (SAME_CLIENT, "minimal_proxy.py", ("pyreqwest",)))
"""(row, script, arguments): the floor, then the Litestar pass-throughs for context."""


def start_proxy(port: int, upstream_url: str, root: Path, script: str, extra: tuple[str, ...]) -> subprocess.Popen:
    command = ["taskset", "-c", UNDER_TEST, sys.executable, str(HERE / "harness" / script), str(port), upstream_url,
               *extra]
    with open(root / f"{script}-{'-'.join(extra)}.log", "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def start_synaxis(root: Path, upstream_url: str, think: bool) -> Target:
    env, token = synaxis_target.prepare(root, upstream_url, think)
    port = procs.free_port()
    proc = synaxis_target.start(env, port, UNDER_TEST, root / "synaxis.log")
    procs.wait_http(port, proc, path="/health")
    check_synaxis(port, token, think)
    return Target("synaxis", port, proc, proc.pid, token)


def run_profile(target: Target, args: argparse.Namespace, root: Path, stamp: str, stream: bool = False) -> str:
    kind = "stream" if stream else "json"
    raw = RESULTS / f"{stamp}-synaxis-{kind}.profile.txt"
    script = wrk.write_script(root / f"profile-{kind}.lua", request_body(stream=stream), target.token, stream=stream)
    spy = profile.record(target.pid, args.seconds, raw, LOAD)
    time.sleep(0.5)
    wrk.run(target.port, script, 32, args.seconds + 1, LOAD)
    _, err = spy.communicate()
    if spy.returncode != 0 or not raw.exists():
        return f"py-spy failed: {err.decode(errors='replace')[-500:]}"
    summary = profile.summarise(raw)
    (RESULTS / f"{stamp}-synaxis-{kind}.profile-summary.txt").write_text(summary + "\n")
    return summary


def micro_benchmarks() -> dict:
    routing = subprocess.run([sys.executable, str(HERE / "routing.py"), "--json"], capture_output=True, text=True,
                             check=False)
    return {"routing": json.loads(routing.stdout) if routing.stdout.strip() else None}


def slow_streams(args: argparse.Namespace) -> dict | None:
    """``slow_streams.py`` through the floor and Synaxis; its results (None if it failed)."""
    levels = "5000" if args.quick else "1000,5000,10000"
    print(f"slow streams ({levels} concurrent; bench/slow_streams.py)", flush=True)
    done = subprocess.run([sys.executable, str(HERE / "slow_streams.py"), "--levels", levels, "--json"],
                          stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        print(f"  slow streams failed (exit status {done.returncode})", file=sys.stderr)
        return None


def memory_soak(target: Target, args: argparse.Namespace, root: Path) -> dict:
    """``--memory``: ``args.requests`` at 32 clients, RSS after about every tenth of them.

    wrk runs for whole seconds, so each slice lasts as long as a tenth of the requests
    takes at the rate of the slice before; the series shows the real counts.
    """
    step = args.requests // 10
    script = wrk.write_script(root / "memory.lua", request_body(), target.token)
    rate = wrk.run(target.port, script, 32, 3, LOAD)["rps"]  # warm-up, and the first estimate
    series: list[dict] = []
    done = 0
    while len(series) < 10 and done < args.requests:
        goal = step * (len(series) + 1) - done
        point = wrk.run(target.port, script, 32, max(1, round(goal / max(rate, 1.0))), LOAD)
        done, rate = done + point["requests"], point["rps"]
        series.append({"requests": done, "rss_mb": procs.memory_mb(target.pid), "errors": point["errors"]})
        print(f"  {done:>8,} requests  RSS {series[-1]['rss_mb']:6.1f} MB  ({point['rps']:.0f} req/s)", flush=True)
    half = series[len(series) // 2 - 1]["rss_mb"]
    growth = series[-1]["rss_mb"] - half
    peak = procs.memory_mb(target.pid, "VmHWM")
    ok_growth, ok_size = growth <= max(1.0, 0.01 * half), series[-1]["rss_mb"] <= BUDGET["rss_mb"]
    print(f"  last half: {half:.1f} -> {series[-1]['rss_mb']:.1f} MB ({growth:+.1f} MB): "
          f"{'PASS' if ok_growth else 'FAIL'} (no growth, 1 MB/1% tolerance)")
    print(f"  RSS after {done:,}: {series[-1]['rss_mb']:.1f} MB, peak {peak:.1f} MB: "
          f"{'PASS' if ok_size else 'FAIL'} (<= 150 MB)")
    return {"series": series, "growth_last_half_mb": growth, "peak_rss_mb": peak, "pass": ok_growth and ok_size}


def compare(args: argparse.Namespace, root: Path, server: subprocess.Popen, upstream_port: int,
            started: list[subprocess.Popen], results: dict, stamp: str) -> bool:
    """Every row, the slow streams, the micro-benchmarks, the table and the budget checks."""
    rows: dict[str, dict] = {}
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    worker = procs.children(server.pid)[0]
    procs.pin(worker, UNDER_TEST)
    print("upstream (nginx worker on CPU 0, wrk on CPU 1)", flush=True)
    rows["upstream"] = measure(Target("upstream", upstream_port, server, worker), args, root, [])
    procs.pin(worker, LOAD)
    for label, script, extra in PROXIES:
        port = procs.free_port()
        proc = start_proxy(port, upstream_url, root, script, extra)
        started.append(proc)
        procs.wait_http(port, proc)
        print(label, flush=True)
        rows[label] = measure(Target(script.split("_")[0], port, proc, proc.pid), args, root, [worker])
        procs.stop(proc)
    print(f"synaxis (think-tag post-processing {'on' if args.think else 'OFF'})", flush=True)
    target = start_synaxis(root / "synaxis-db", upstream_url, args.think)
    started.append(target.proc)
    rows["synaxis"] = measure(target, args, root, [worker])
    if args.profile:
        print("profiling synaxis at 32 clients (py-spy), JSON then streams", flush=True)
        results["profile"] = run_profile(target, args, root, stamp)
        results["profile_stream"] = run_profile(target, args, root, stamp, stream=True)
    procs.stop(target.proc)
    slow = slow_streams(args) if args.slow else None
    micro = micro_benchmarks() if args.micro else None
    results.update(rows=rows, micro=micro, slow_streams=slow)
    print("\n" + report.table(rows, args.connections))
    print("\n".join(report.ratios(rows, args.connections)))
    checks = report.checks(rows, args.connections, micro, slow)
    print(report.budget_text(checks))
    results["checks"] = checks
    for key, what in (("profile", "JSON requests"), ("profile_stream", "whole streams")):
        if results.get(key):
            print(f"\nprofile of synaxis at 32 clients, {what}:\n" + results[key])
    return all(c["pass"] for c in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description="Upstream, the floor, minimal proxies and Synaxis, one run.")
    parser.add_argument("--quick", action="store_true", help="~3 s per point, 1 s warm-up, 100 stream requests")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load point")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up before each target's points")
    parser.add_argument("--connections", default="1,32,128", help="concurrent clients per point")
    parser.add_argument("--ttfb-requests", type=int, default=200)
    parser.add_argument("--no-think-tags", dest="think", action="store_false",
                        help="built-in plugins only: no think-tag post-processor on the bench deployments")
    parser.add_argument("--profile", action="store_true", help="py-spy on Synaxis during extra 32-client runs")
    parser.add_argument("--memory", action="store_true", help="only the memory soak of Synaxis")
    parser.add_argument("--requests", type=int, default=100_000, help="requests of the memory soak")
    parser.add_argument("--no-micro", dest="micro", action="store_false", help="skip the routing micro-benchmark")
    parser.add_argument("--no-slow", dest="slow", action="store_false", help="skip the slow-stream benchmark")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.ttfb_requests = 3.0, 1.0, 100
    args.connections = [int(c) for c in args.connections.split(",")]
    RESULTS.mkdir(exist_ok=True)
    os.sched_setaffinity(0, {int(LOAD)})  # the harness (and its stream client) stays off the CPU under test
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory(prefix="synaxis-bench-") as tmp:
        root = Path(tmp)
        upstream_port = procs.free_port()
        server = nginx.start_nginx(root / "nginx", upstream_port, LOAD)
        started: list[subprocess.Popen] = [server]
        try:
            procs.wait_http(upstream_port, server)
            results: dict = {"started": stamp, "args": vars(args), "think_tags": args.think,
                             "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
            if args.memory:
                target = start_synaxis(root / "synaxis-db", f"http://127.0.0.1:{upstream_port}/v1", args.think)
                started.append(target.proc)
                results["memory"] = memory_soak(target, args, root)
                ok = results["memory"]["pass"]
            else:
                ok = compare(args, root, server, upstream_port, started, results, stamp)
        finally:
            for proc in reversed(started):
                procs.stop(proc)
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out.relative_to(HERE.parent)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
