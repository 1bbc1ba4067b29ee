"""The gateway benchmark (``make bench``): upstream, minimal proxy and Synaxis, one run.

Needs nginx, wrk and py-spy: ``bash bench/setup.sh`` installs them. Then::

    .venv/bin/python bench/run.py            # ~10 s per point, then the micro-benchmarks
    .venv/bin/python bench/run.py --quick    # ~3 s per point
    .venv/bin/python bench/run.py --profile  # also py-spy on Synaxis at 32 clients
    .venv/bin/python bench/run.py --memory   # 100,000 requests, RSS every 10,000

nginx (the upstream) answers a fixed completion with inline ``<think>`` reasoning and
``usage``, or a fixed SSE stream. Three processes are measured in turn, each pinned to
CPU 0 while nginx and wrk run on CPU 1: nginx itself (its worker moved to CPU 0 for
that row), ``harness/minimal_proxy.py`` (Litestar + aiohttp, the floor for a Python
gateway) and ``synaxis serve`` with its full pipeline (auth, routing over three
deployments, tenant limits on the memory backend, think-tag post-processing, ledger on
SQLite). Results go to ``bench/results/<timestamp>.json``; exit status 1 when a budget
check fails.

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

from harness import nginx, procs, profile, synaxis_target, ttfb, wrk
from harness.fixtures import ANSWER, request_body

UNDER_TEST, LOAD = "0", "1"
SAME_CLIENT = "minimal/pyreqwest"
"""The minimal proxy on Synaxis's own HTTP client: what the gateway's work costs on top."""
RESULTS = HERE / "results"
BUDGET = {"rps_ratio_32": 0.90, "p50_added_ms_1": 0.5, "cpu_ratio": 1.10, "ttfb_added_ms": 1.0,
          "rss_mb": 150.0, "routing_us": 20.0, "stripper_mb_s": 50.0}


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
    row.update(ttfb.measure(target.port, request_body(stream=True).encode(), target.token, n=args.ttfb_requests))
    row["peak_rss_mb"] = procs.memory_mb(target.pid, "VmHWM")
    row["rss_mb"] = procs.memory_mb(target.pid)
    return row


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


def start_minimal(port: int, upstream_url: str, root: Path, client: str = "aiohttp") -> subprocess.Popen:
    command = ["taskset", "-c", UNDER_TEST, sys.executable, str(HERE / "harness" / "minimal_proxy.py"),
               str(port), upstream_url, client]
    with open(root / f"minimal-{client}.log", "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def start_synaxis(root: Path, upstream_url: str, think: bool) -> Target:
    env, token = synaxis_target.prepare(root, upstream_url, think)
    port = procs.free_port()
    proc = synaxis_target.start(env, port, UNDER_TEST, root / "synaxis.log")
    procs.wait_http(port, proc, path="/health")
    check_synaxis(port, token, think)
    return Target("synaxis", port, proc, proc.pid, token)


def run_profile(target: Target, args: argparse.Namespace, root: Path, stamp: str) -> str:
    raw = RESULTS / f"{stamp}-synaxis.profile.txt"
    script = wrk.write_script(root / "profile.lua", request_body(), target.token)
    spy = profile.record(target.pid, args.seconds, raw, LOAD)
    time.sleep(0.5)
    wrk.run(target.port, script, 32, args.seconds + 1, LOAD)
    _, err = spy.communicate()
    if spy.returncode != 0 or not raw.exists():
        return f"py-spy failed: {err.decode(errors='replace')[-500:]}"
    report = profile.summarise(raw)
    (RESULTS / f"{stamp}-synaxis.profile-summary.txt").write_text(report + "\n")
    return report


def micro_benchmarks() -> dict:
    routing = subprocess.run([sys.executable, str(HERE / "routing.py"), "--json"], capture_output=True, text=True,
                             check=False)
    stripper = subprocess.run([sys.executable, str(HERE / "think_stripper.py")], capture_output=True, text=True,
                              check=False)
    result: dict = {"routing": json.loads(routing.stdout) if routing.stdout.strip() else None}
    rates = {line.split(",")[0]: float(line.split()[-2]) for line in stripper.stdout.splitlines()
             if "stripper stream" in line}
    result["stripper_stream_mb_s"] = min(rates.values()) if rates else None
    result["stripper_cases_mb_s"] = rates
    result["stripper_output"] = stripper.stdout
    return result


def fmt_table(rows: dict[str, dict], connections: list[int]) -> str:
    cols = []
    for c in connections:
        cols += [f"rps@{c}"] + ([f"p50@{c}", f"p99@{c}"] if c in (1, 32) else [])
    cols += ["TTFB p50", "CPU us/req", "peak RSS", "others %"]
    lines = [f"{'':<15}" + "".join(f"{c:>11}" for c in cols)]
    for name, row in rows.items():
        cells = []
        for c in connections:
            p = row["points"][str(c)]
            cells.append(f"{p['rps']:.0f}")
            if c in (1, 32):
                cells += [f"{p['p50_ms']:.2f}ms", f"{p['p99_ms']:.2f}ms"]
        cpu = row["points"][str(_cpu_point(connections))]["cpu_us_per_req"]
        busy = [max(p.get(f"other_cpu{i}_pct", 0) for p in row["points"].values()) for i in (0, 1)]
        cells += [f"{row['ttfb_p50_ms']:.2f}ms", f"{cpu:.0f}", f"{row['peak_rss_mb']:.0f}MB", f"{busy[0]:.0f}/{busy[1]:.0f}"]
        lines.append(f"{name:<15}" + "".join(f"{c:>11}" for c in cells))
    lines.append("(others %: the most CPU 0 / CPU 1 time other processes took during a point; high = noisy)")
    return "\n".join(lines)


def _cpu_point(connections: list[int]) -> int:  # CPU per request is read at 32 clients
    return 32 if 32 in connections else connections[-1]


def ratios_and_checks(rows: dict[str, dict], connections: list[int], micro: dict | None) -> tuple[str, list]:
    s, m = rows["synaxis"], rows["minimal proxy"]
    cp = str(_cpu_point(connections))
    lines = []
    if SAME_CLIENT in rows:
        same = rows[SAME_CLIENT]["points"][cp]["cpu_us_per_req"]
        lines.append(f"synaxis / {SAME_CLIENT} (same HTTP client, for reference): CPU per request at {cp} "
                     f"clients {s['points'][cp]['cpu_us_per_req'] / same:.2f}x "
                     f"(+{s['points'][cp]['cpu_us_per_req'] - same:.0f} us: the gateway's own work)")
    lines.append("synaxis / minimal proxy:")
    for c in connections:
        lines.append(f"  rps@{c}: {s['points'][str(c)]['rps'] / m['points'][str(c)]['rps']:.2f}x")
    cpu_ratio = s["points"][cp]["cpu_us_per_req"] / m["points"][cp]["cpu_us_per_req"]
    lines.append(f"  CPU per request (at {cp} clients): {cpu_ratio:.2f}x")
    checks = []
    if "32" in s["points"]:
        ratio = s["points"]["32"]["rps"] / m["points"]["32"]["rps"]
        checks.append(("rps at 32 clients >= 90% of the minimal proxy", f"{ratio:.0%}", ratio >= BUDGET["rps_ratio_32"]))
    if "1" in s["points"]:
        added = s["points"]["1"]["p50_ms"] - m["points"]["1"]["p50_ms"]
        checks.append(("p50 at 1 client <= minimal + 0.5 ms", f"{added:+.2f} ms", added <= BUDGET["p50_added_ms_1"]))
    checks.append((f"CPU per request at {cp} clients <= minimal + 10%", f"{cpu_ratio - 1:+.0%}",
                   cpu_ratio <= BUDGET["cpu_ratio"]))
    if "1" in s["points"] and cp != "1":  # the budget names the CPU line beside the 1-client latency
        ratio_1 = s["points"]["1"]["cpu_us_per_req"] / m["points"]["1"]["cpu_us_per_req"]
        checks.append(("CPU per request at 1 client <= minimal + 10%", f"{ratio_1 - 1:+.0%}",
                       ratio_1 <= BUDGET["cpu_ratio"]))
    added = s["ttfb_p50_ms"] - m["ttfb_p50_ms"]
    checks.append(("stream TTFB p50 <= minimal + 1 ms", f"{added:+.2f} ms", added <= BUDGET["ttfb_added_ms"]))
    checks.append(("peak RSS <= 150 MB (this run; --memory for 100k)", f"{s['peak_rss_mb']:.0f} MB",
                   s["peak_rss_mb"] <= BUDGET["rss_mb"]))
    if micro and micro.get("routing"):
        us = micro["routing"]["global_3_candidates"]["median_us"]
        checks.append(("routing decision <= 20 us (10,000 models)", f"{us:.1f} us", us <= BUDGET["routing_us"]))
    if micro and micro.get("stripper_stream_mb_s") is not None:
        rate = micro["stripper_stream_mb_s"]
        cases = ", ".join(f"{k} {v:.0f}" for k, v in micro["stripper_cases_mb_s"].items())
        checks.append(("think stripper >= 50 MB/s, 20-char deltas, every case", f"{cases} MB/s",
                       rate >= BUDGET["stripper_mb_s"]))
    lines.append("budget:")
    lines += [f"  {'PASS' if ok else 'FAIL'}  {what}: {value}" for what, value, ok in checks]
    return "\n".join(lines), [{"check": w, "value": v, "pass": ok} for w, v, ok in checks]


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
    """The three rows, the micro-benchmarks, the table and the budget checks."""
    rows: dict[str, dict] = {}
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    worker = procs.children(server.pid)[0]
    procs.pin(worker, UNDER_TEST)
    print("upstream (nginx worker on CPU 0, wrk on CPU 1)", flush=True)
    rows["upstream"] = measure(Target("upstream", upstream_port, server, worker), args, root, [])
    procs.pin(worker, LOAD)
    for label, client in (("minimal proxy", "aiohttp"), (SAME_CLIENT, "pyreqwest")):
        port = procs.free_port()
        proc = start_minimal(port, upstream_url, root, client)
        started.append(proc)
        procs.wait_http(port, proc)
        print(label, flush=True)
        rows[label] = measure(Target("minimal", port, proc, proc.pid), args, root, [worker])
        procs.stop(proc)
    print(f"synaxis (think-tag post-processing {'on' if args.think else 'OFF'})", flush=True)
    target = start_synaxis(root / "synaxis-db", upstream_url, args.think)
    started.append(target.proc)
    rows["synaxis"] = measure(target, args, root, [worker])
    if args.profile:
        print("profiling synaxis at 32 clients (py-spy)", flush=True)
        results["profile"] = run_profile(target, args, root, stamp)
    procs.stop(target.proc)
    micro = micro_benchmarks() if args.micro else None
    results.update(rows=rows, micro=micro)
    print("\n" + fmt_table(rows, args.connections))
    text, checks = ratios_and_checks(rows, args.connections, micro)
    print(text)
    results["checks"] = checks
    if results.get("profile"):
        print("\nprofile of synaxis at 32 clients:\n" + results["profile"])
    return all(c["pass"] for c in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description="Upstream vs minimal proxy vs Synaxis, one run.")
    parser.add_argument("--quick", action="store_true", help="~3 s per point, 1 s warm-up, 100 stream requests")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load point")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up before each target's points")
    parser.add_argument("--connections", default="1,32,128", help="concurrent clients per point")
    parser.add_argument("--ttfb-requests", type=int, default=200)
    parser.add_argument("--no-think-tags", dest="think", action="store_false",
                        help="built-in plugins only: no think-tag post-processor on the bench deployments")
    parser.add_argument("--profile", action="store_true", help="py-spy on Synaxis during an extra 32-client run")
    parser.add_argument("--memory", action="store_true", help="only the memory soak of Synaxis")
    parser.add_argument("--requests", type=int, default=100_000, help="requests of the memory soak")
    parser.add_argument("--no-micro", dest="micro", action="store_false", help="skip routing/stripper benchmarks")
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
