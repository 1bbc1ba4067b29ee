"""Many slow streams at once: 1,000 / 5,000 / 10,000 concurrent streams paced like a model.

    .venv/bin/python bench/slow_streams.py                    # the three levels, ~4 minutes
    .venv/bin/python bench/slow_streams.py --levels 5000 --targets direct,bare,synaxis
    .venv/bin/python bench/slow_streams.py --events 10-20 --gap-ms 50-200 --rounds 1 --json
    .venv/bin/python bench/slow_streams.py --levels 1000 --targets bare,synaxis --profile  # py-spy on Synaxis

The upstream (``harness/slow_upstream.py``, its own process on CPU 1) sends each stream
N content events (default 10-20) with a gap before each (default 50-200 ms), then the
finish and usage chunks and ``[DONE]``; every content event carries the moment it was
written. The client (``harness/slow_client.py``, this process, on CPU 1) opens the
level's connections over ``--ramp`` seconds and sends ``--rounds`` streams on each.
Targets, each pinned to CPU 0 and started afresh for each level:

- ``direct``: the client against the upstream itself. It shows that the client and the
  upstream keep up at that level, and its per-event delay (the client's and upstream's
  own) is subtracted from the others';
- ``bare``: the bare ASGI + pyreqwest pass-through (``harness/bare_proxy.py``), the floor;
- ``synaxis``: ``synaxis serve`` with the ``bench/run.py`` setup (three deployments,
  tenant limits, think-tag post-processing, the SQLite ledger), started with a soft
  open-file limit of 1,024 (it raises it itself) and ``SYNAXIS_MAX_CONNECTIONS`` above
  the level (the upstream pool's size; the default, 512, would queue the rest);
- ``aiohttp`` (not by default): the Litestar + aiohttp minimal proxy, for context.

For each: streams complete with every event (and lost), the delay each event gained
(p50/p99 of arrival - written, less the direct run's at the same level), CPU per
stream (``/proc`` of the target process), memory per stream (peak RSS less the RSS
before the level, over the streams in flight at the peak), and how busy the load side
(client and upstream, CPU 1) was. The open-file limit of this process is raised to its
hard limit (and the hard limit, as root, to what the level needs) at start-up. Results
go to ``bench/results/slow-<timestamp>.json``; with ``--budget``, exit status 1 when a
line of the 5,000-stream budget fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import uvloop

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import procs, profile, slow_client, synaxis_target

UNDER_TEST, LOAD = "0", "1"
RESULTS = HERE / "results"
FLOOR = "bare"
BUDGET_LEVEL = 5000
BUDGET = {"cpu_ratio": 1.4, "memory_ratio": 1.5, "p99_added_ms": 10.0}


def span(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def start_target(name: str, root: Path, upstream_url: str, level: int,
                 max_connections: int | None = None) -> tuple[subprocess.Popen, int, str | None]:
    port = procs.free_port()
    log = root / f"{name}-{level}.log"
    if name == "synaxis":
        env, token = synaxis_target.prepare(root / f"synaxis-{level}", upstream_url, think=True)
        if max_connections != 0:  # 0: Synaxis's default (512 per provider)
            env["SYNAXIS_MAX_CONNECTIONS"] = str(max_connections or 2 * level + 100)
        proc = synaxis_target.start(env, port, UNDER_TEST, log, log_level="info", soft_nofile=1024)
        procs.wait_http(port, proc, path="/health")
        return proc, port, token
    script = {"bare": "bare_proxy.py", "aiohttp": "minimal_proxy.py"}[name]
    command = ["taskset", "-c", UNDER_TEST, sys.executable, str(HERE / "harness" / script), str(port), upstream_url]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    procs.wait_http(port, proc)
    return proc, port, None


def load_side_seconds(upstream: int) -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return procs.cpu_seconds(upstream) + own.ru_utime + own.ru_stime


def measure(name: str, level: int, args: argparse.Namespace, root: Path, upstream: subprocess.Popen,
            upstream_port: int) -> dict:
    proc = None
    if name == "direct":
        port, token, pid = upstream_port, None, upstream.pid
    else:
        proc, port, token = start_target(name, root, f"http://127.0.0.1:{upstream_port}/v1", level,
                                         args.synaxis_max_connections)
        pid = proc.pid
    try:
        if proc is not None:  # warm-up: imports, pools, the first streams
            warm = slow_client.Plan(port, token, (5, 5), (5, 10), seed=1)
            uvloop.run(slow_client.run(warm, 200, 1, 0.2, 30.0))
        spy = None
        if args.profile and name == "synaxis":
            seconds = args.ramp + args.rounds * args.events[1] * args.gap_ms[1] / 1000
            spy = profile.record(pid, seconds, RESULTS / f"slow-{level}-synaxis.profile.txt", LOAD)
            time.sleep(0.5)
        rss_before, cpu_before, threads_before = procs.memory_mb(pid), procs.cpu_seconds(pid), procs.thread_cpu_seconds(pid)
        load_before, wall_before = load_side_seconds(upstream.pid), time.monotonic()
        plan = slow_client.Plan(port, token, args.events, args.gap_ms, seed=level)
        tally = uvloop.run(slow_client.run(plan, level, args.rounds, args.ramp, args.deadline))
        wall = time.monotonic() - wall_before
        cpu = procs.cpu_seconds(pid) - cpu_before
        by_thread = {name: seconds - threads_before.get(name, 0.0) for name, seconds in procs.thread_cpu_seconds(pid).items()}
        peak = procs.memory_mb(pid, "VmHWM")
        load = (load_side_seconds(upstream.pid) - load_before) / wall
        if spy is not None:
            spy.communicate()
            summary = profile.summarise(RESULTS / f"slow-{level}-synaxis.profile.txt")
            (RESULTS / f"slow-{level}-synaxis.profile-summary.txt").write_text(summary + "\n")
        log_line = None
        if name == "synaxis":
            log_line = next((line for line in (root / f"synaxis-{level}.log").read_text().splitlines()
                             if "open-file limit" in line), None)
    finally:
        if proc is not None:
            procs.stop(proc)
    delays, firsts = sorted(tally.delays_us), sorted(tally.first_event_us)
    row = {
        "target": name, "level": level, "streams": tally.started, "complete": tally.complete, "lost": tally.lost,
        "refused": tally.refused, "statuses": {str(k): v for k, v in tally.statuses.items()},
        "events": tally.events, "peak_in_flight": tally.peak_in_flight, "seconds": wall,
        "delay_p50_ms": slow_client.percentile(delays, 0.50) / 1000,
        "delay_p99_ms": slow_client.percentile(delays, 0.99) / 1000,
        "delay_max_ms": (delays[-1] / 1000) if delays else float("nan"),
        "first_event_p50_ms": slow_client.percentile(firsts, 0.50) / 1000,
        "first_event_p99_ms": slow_client.percentile(firsts, 0.99) / 1000,
        "cpu_ms_per_stream": cpu / max(tally.complete, 1) * 1000,
        "cpu_cores": cpu / wall,
        "cpu_ms_per_stream_by_thread": {name: round(seconds / max(tally.complete, 1) * 1000, 3)
                                        for name, seconds in by_thread.items() if seconds > 0.005},
        "memory_kb_per_stream": max(0.0, peak - rss_before) * 1000 / max(tally.peak_in_flight, 1)
        if name != "direct" else None,
        "rss_before_mb": rss_before, "peak_rss_mb": peak, "load_side_cores": load,
    }
    if log_line:
        row["open_file_log"] = log_line.split(": ", 1)[-1]
    return row


def show(row: dict, direct: dict | None) -> str:
    added = ""
    if direct is not None and row["target"] != "direct":
        row["added_p50_ms"] = row["delay_p50_ms"] - direct["delay_p50_ms"]
        row["added_p99_ms"] = row["delay_p99_ms"] - direct["delay_p99_ms"]
        added = f"  added p50 {row['added_p50_ms']:+6.1f} ms p99 {row['added_p99_ms']:+6.1f} ms"
    memory = (f"  {row['memory_kb_per_stream']:5.1f} KB/stream (RSS {row['rss_before_mb']:.0f} -> peak "
              f"{row['peak_rss_mb']:.0f} MB)" if row["memory_kb_per_stream"] is not None else "")
    return (f"  {row['target']:<8} {row['level']:>6}: {row['complete']:>6}/{row['streams']} complete, "
            f"{row['lost']} lost, {row['events']:,} events, peak {row['peak_in_flight']} in flight; "
            f"delay p50 {row['delay_p50_ms']:6.1f} p99 {row['delay_p99_ms']:7.1f} ms{added}; first event p50 "
            f"{row['first_event_p50_ms']:.0f} p99 {row['first_event_p99_ms']:.0f} ms; {row['seconds']:.1f} s; "
            f"CPU {row['cpu_ms_per_stream']:5.2f} ms/stream ({row['cpu_cores']:.2f} cores; "
            + ", ".join(f"{k} {v:.2f}" for k, v in row["cpu_ms_per_stream_by_thread"].items()) + f"){memory}; "
            f"load side {row['load_side_cores']:.2f} cores")


def ratios(rows: list[dict], levels: list[int]) -> tuple[list[str], list[dict]]:
    lines, checks = [], []
    for level in levels:
        at = {r["target"]: r for r in rows if r["level"] == level}
        floor = at.get(FLOOR)
        for name, row in at.items():
            if floor is None or name in ("direct", FLOOR):
                continue
            row["cpu_ratio"] = row["cpu_ms_per_stream"] / floor["cpu_ms_per_stream"]
            row["memory_ratio"] = (row["memory_kb_per_stream"] or 0) / max(floor["memory_kb_per_stream"] or 0, 1e-9)
            row["p99_added_vs_floor_ms"] = row.get("added_p99_ms", 0) - floor.get("added_p99_ms", 0)
            lines.append(f"  {name} / {FLOOR} at {level}: CPU per stream {row['cpu_ratio']:.2f}x, memory per stream "
                         f"{row['memory_ratio']:.2f}x, added p99 {row['p99_added_vs_floor_ms']:+.1f} ms")
            if name == "synaxis" and level == BUDGET_LEVEL:
                checks += [
                    {"check": f"slow streams at {level}: none lost", "value": f"{row['lost']} lost",
                     "pass": row["lost"] == 0},
                    {"check": f"slow streams at {level}: CPU per stream <= 1.4x the floor",
                     "value": f"{row['cpu_ratio']:.2f}x", "pass": row["cpu_ratio"] <= BUDGET["cpu_ratio"]},
                    {"check": f"slow streams at {level}: memory per stream <= 1.5x the floor",
                     "value": f"{row['memory_ratio']:.2f}x", "pass": row["memory_ratio"] <= BUDGET["memory_ratio"]},
                    {"check": f"slow streams at {level}: added delay p99 <= the floor's + 10 ms",
                     "value": f"{row['p99_added_vs_floor_ms']:+.1f} ms",
                     "pass": row["p99_added_vs_floor_ms"] <= BUDGET["p99_added_ms"]},
                ]
    return lines, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1000,5000,10000", help="concurrent streams per run")
    parser.add_argument("--targets", default="direct,bare,synaxis", help="direct, bare, synaxis, aiohttp")
    parser.add_argument("--events", type=span, default=(10, 20), help="content events per stream: N or LOW-HIGH")
    parser.add_argument("--gap-ms", type=span, default=(50, 200), help="gap before each event, ms: N or LOW-HIGH")
    parser.add_argument("--rounds", type=int, default=1, help="streams per connection, back to back")
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which the connections open")
    parser.add_argument("--deadline", type=float, default=90.0, help="a stream still open this long after is lost")
    parser.add_argument("--profile", action="store_true", help="py-spy on Synaxis during each level")
    parser.add_argument("--synaxis-max-connections", type=int, default=None,
                        help="SYNAXIS_MAX_CONNECTIONS of the Synaxis target (default: 2 x the level + 100; "
                             "0: Synaxis's own default)")
    parser.add_argument("--budget", action="store_true", help="exit 1 when a line of the 5,000 budget fails")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout (last line)")
    args = parser.parse_args()
    levels = [int(v) for v in args.levels.split(",")]
    targets = args.targets.split(",")
    os.sched_setaffinity(0, {int(LOAD)})
    print(procs.raise_open_files(4 * max(levels) + 4096), flush=True)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    rows: list[dict] = []
    print(f"{args.events[0]}-{args.events[1]} events per stream, {args.gap_ms[0]}-{args.gap_ms[1]} ms apart, "
          f"{args.rounds} stream(s) per connection, connections opened over {args.ramp:g} s; "
          f"targets on CPU {UNDER_TEST}, upstream and client on CPU {LOAD}", flush=True)
    with tempfile.TemporaryDirectory(prefix="synaxis-slow-") as tmp:
        root = Path(tmp)
        upstream_port = procs.free_port()
        with open(root / "upstream.log", "wb") as out:
            upstream = subprocess.Popen(["taskset", "-c", LOAD, sys.executable, str(HERE / "harness" / "slow_upstream.py"),
                                         str(upstream_port)], stdout=out, stderr=subprocess.STDOUT)
        try:
            procs.wait_http(upstream_port, upstream)
            for level in levels:
                direct = None
                for name in targets:
                    row = measure(name, level, args, root, upstream, upstream_port)
                    direct = row if name == "direct" else direct
                    print(show(row, direct), flush=True)
                    if row.get("open_file_log"):
                        print(f"    synaxis said: {row['open_file_log']}")
                    rows.append(row)
        finally:
            procs.stop(upstream)
    lines, checks = ratios(rows, levels)
    print("ratios to the floor (bare ASGI + pyreqwest):\n" + "\n".join(lines))
    if checks:
        print("budget:\n" + "\n".join(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['check']}: {c['value']}" for c in checks))
    results = {"started": stamp, "args": {k: v for k, v in vars(args).items()}, "rows": rows, "checks": checks}
    out = RESULTS / f"slow-{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out.relative_to(HERE.parent)}")
    if args.json:
        print(json.dumps(results))
    return 1 if args.budget and not all(c["pass"] for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
