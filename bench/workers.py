"""Requests/s and CPU of ``synaxis serve`` with 1 and 2 workers, unpinned, in one run.

    .venv/bin/python bench/workers.py            # 10 s per point, 32 and 128 clients
    .venv/bin/python bench/workers.py --quick    # 3 s per point
    .venv/bin/python bench/workers.py --workers 1 2 4 --connections 64

The setup of ``bench/run.py`` (nginx answering a fixed completion with ``<think>``
reasoning; a config file with three deployments; a tenant with RPM, TPM and budget
limits; the SQLite ledger), except that nothing is pinned (the workers, nginx and wrk
share every core, as on a host that runs the gateway beside other work) and that each
number of workers runs twice: with the limits in Redis (what ``--workers 2`` needs; the
1-worker row too, so that rows differ only in the number of processes), then kept per
process (``SYNAXIS_ALLOW_PER_PROCESS_LIMITS``), which shows what the process model
itself scales apart from the Redis round trips. Needs nginx and wrk (``bash
bench/setup.sh``) and a Redis (``--redis``, default the local one).

For each number of workers and each point: requests/s, p50/p99, the CPU time of all of
Synaxis's processes (the parent, the workers) per request, and how busy the machine
was (all cores; 100% = every core busy). Results go to
``bench/results/workers-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import nginx, procs, synaxis_target, wrk
from harness.fixtures import request_body

RESULTS = HERE / "results"
STARTED = re.compile(r"\[(\d+)\] Application startup complete")


def all_cpus() -> str:
    return ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))


def start(env: dict[str, str], workers: int, root: Path) -> tuple[subprocess.Popen, int, Path]:
    """``synaxis serve --workers N`` unpinned; waits for every worker to finish its start-up."""
    port = procs.free_port()
    log = root / f"synaxis-{workers}.log"
    command = [str(Path(sys.executable).with_name("synaxis")), "serve", "--no-demo", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--log-level", "info"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    procs.wait_http(port, proc, timeout_s=180, path="/health")
    deadline = time.monotonic() + 180
    while workers > 1 and len(set(STARTED.findall(log.read_text(errors="replace")))) < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{workers} workers did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    return proc, port, log


def synaxis_pids(parent: int) -> list[int]:
    """The parent and its children (the workers, and multiprocessing's resource tracker)."""
    return [parent, *procs.children(parent)]


def redis_totals(client) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Commands served and CPU seconds used so far by the whole Redis server."""
    if client is None:
        return 0, 0.0
    calls = sum(v["calls"] for k, v in client.info("commandstats").items() if k.startswith("cmdstat_"))
    cpu = client.info("cpu")
    return calls, cpu["used_cpu_sys"] + cpu["used_cpu_user"]


def load_side_cpu(upstream: int) -> float:
    """CPU seconds so far of the load side: nginx and our finished children (wrk)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return procs.cpu_seconds(upstream) + children.ru_utime + children.ru_stime


def measure(port: int, pids: list[int], script: Path, connections: int, seconds: float, redis_client,  # type: ignore[no-untyped-def]
            upstream: int) -> dict:
    cpus = all_cpus()
    before, redis_before, load_before = sum(procs.cpu_seconds(p) for p in pids), redis_totals(redis_client), \
        load_side_cpu(upstream)
    busy_before, wall_before = procs.cpu_busy(""), time.monotonic()  # "cpu ": all cores
    point = wrk.run(port, script, connections, seconds, cpus)
    wall = time.monotonic() - wall_before
    requests = max(point["requests"], 1)
    own = sum(procs.cpu_seconds(p) for p in pids) - before
    redis_after = redis_totals(redis_client)
    point["cpu_us_per_req"] = own / requests * 1e6
    point["synaxis_cores"] = own / wall
    busy = procs.cpu_busy("") - busy_before
    point["machine_busy_pct"] = busy / wall / len(cpus.split(",")) * 100
    point["redis_commands_per_req"] = (redis_after[0] - redis_before[0]) / requests
    point["redis_cpu_us_per_req"] = (redis_after[1] - redis_before[1]) / requests * 1e6
    # what the rest of the machine used meanwhile, in cores (high: noisy figures)
    point["other_cores"] = max(0.0, (busy - own - (load_side_cpu(upstream) - load_before)
                                     - (redis_after[1] - redis_before[1])) / wall)
    return point


def run_row(env: dict[str, str], workers: int, token: str, args: argparse.Namespace, root: Path,
            redis_client, upstream: int) -> dict:  # type: ignore[no-untyped-def]
    proc, port, log = start(env, workers, root)
    try:
        pids = synaxis_pids(proc.pid)
        script = wrk.write_script(root / "bench.lua", request_body(), token)
        wrk.run(port, script, 32, args.warmup, all_cpus())
        row: dict = {"workers": workers, "points": {}}
        for connections in args.connections:
            point = measure(port, pids, script, connections, args.seconds, redis_client, upstream)
            row["points"][str(connections)] = point
            print(f"  {workers} worker{'s' if workers > 1 else ' '} {connections:>4} clients: "
                  f"{point['rps']:8.0f} req/s  p50 {point['p50_ms']:6.2f} ms  p99 {point['p99_ms']:6.2f} ms  "
                  f"CPU {point['cpu_us_per_req']:4.0f} us/req ({point['synaxis_cores']:.2f} cores)  "
                  f"machine {point['machine_busy_pct']:3.0f}% busy (others {point['other_cores']:.2f} cores)"
                  + (f"  Redis {point['redis_commands_per_req']:.1f} commands, {point['redis_cpu_us_per_req']:.0f} us"
                     "/req" if redis_client is not None else "")
                  + (f"  {point['errors']} errors" if point["errors"] else ""), flush=True)
        row["rss_mb"] = sum(procs.memory_mb(p) for p in synaxis_pids(proc.pid))
        row["parent_rss_mb"] = procs.memory_mb(proc.pid) if workers > 1 else 0.0
    finally:
        procs.stop(proc, timeout_s=60)
    if proc.returncode not in (0, -15):  # one process re-raises its SIGTERM once stopped
        print(f"  warning: synaxis exited {proc.returncode}; see {log}", file=sys.stderr)
    return row


STATES = ("redis", "per-process")
"""Where the limits live: Redis (what ``--workers N`` needs) or each process
(``SYNAXIS_ALLOW_PER_PROCESS_LIMITS``: no Redis round trips, so the cost of the process
model itself shows apart from that of the shared state)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--state", nargs="+", choices=STATES, default=list(STATES))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="3 s per point")
    parser.add_argument("--redis", default=os.environ.get("SYNAXIS_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    import redis

    prefix = f"synaxis-bench:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(args.redis, decode_responses=True) if "redis" in args.state else None
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="synaxis-bench-workers-") as tmp:
        root = Path(tmp)
        upstream_port = procs.free_port()
        upstream = nginx.start_nginx(root / "nginx", upstream_port, all_cpus())
        try:
            procs.wait_http(upstream_port, upstream)
            env, token = synaxis_target.prepare(root / "synaxis", f"http://127.0.0.1:{upstream_port}/v1", think=True)
            print(f"{os.cpu_count()} cores ({all_cpus()} usable), nothing pinned; {args.seconds:g} s per point")
            for state in args.state:
                print(f"limits {'in Redis (' + args.redis + ')' if state == 'redis' else 'per process'}:")
                extra = ({"SYNAXIS_REDIS_URL": args.redis, "SYNAXIS_REDIS_PREFIX": prefix} if state == "redis"
                         else {"SYNAXIS_ALLOW_PER_PROCESS_LIMITS": "true"})
                for n in args.workers:
                    row = run_row({**env, **extra}, n, token, args, root / "synaxis",
                                  client if state == "redis" else None, upstream.pid)
                    rows.append({"state": state, **row})
        finally:
            procs.stop(upstream)
            if client is not None:
                keys = list(client.scan_iter(match=f"{prefix}*"))
                if keys:
                    client.delete(*keys)
                client.close()
    for state in args.state:
        mine = [r for r in rows if r["state"] == state]
        for row in mine[1:]:
            ratios = ", ".join(f"{row['points'][c]['rps'] / mine[0]['points'][c]['rps']:.2f}x at {c} clients"
                               for c in row["points"])
            print(f"limits {state}: {row['workers']} workers / {mine[0]['workers']}: {ratios} the requests/s")
        for row in mine:
            parent = f", the parent {row['parent_rss_mb']:.0f} MB of it" if row["workers"] > 1 else ""
            print(f"limits {state}: {row['workers']} worker(s): RSS {row['rss_mb']:.0f} MB in all{parent}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"workers-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"rows": rows, "cores": os.cpu_count(), "seconds": args.seconds}, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
