"""Soak: a steady load for a while with a share of upstream calls failing.

    .venv/bin/python bench/soak.py                       # 60 s, 200 requests/s, 10% failing
    .venv/bin/python bench/soak.py --seconds 10 --rate 100
    .venv/bin/python bench/soak.py --rate 0 --clients 16  # closed loop: 16 clients flat out
    .venv/bin/python bench/soak.py --json bench/results/soak.json

What runs, all on 127.0.0.1:

- the fake upstream in its own process (``--serve-fake``: a ``FakeUpstream`` whose
  ``gpt-oss-120b`` deployments at NVIDIA, Synthetic and Together each answer HTTP 500
  to a random ``--failure-rate`` of their calls, seeded);
- ``synaxis serve --no-demo`` (SQLite ledger, in-process state) as a real process;
- the load: ``--rate`` requests per second, open loop (a request starts on schedule
  whether or not earlier ones have finished; at most ``--clients`` in flight), or with
  ``--rate 0`` a closed loop of ``--clients`` clients sending back to back. One request
  in ``--stream-every`` is streamed (read to ``[DONE]``). The model is the global id
  ``gpt-oss-120b``, so a failed attempt fails over to the next deployment.

Reported: requests, requests/s, the client-visible error rate (a non-200 answer, a
stream ending in an error event or without ``[DONE]``, a transport error), latency
p50/p90/p99/max, the gateway's RSS (``/proc``) after the warm-up and at the end,
upstream calls and the share that failed, failovers and deployments disabled by health
(from ``/metrics``), and whether the ledger holds one row per request. Exit status 1
when the client-visible error rate is above ``--max-error-rate``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
MODEL = "gpt-oss-120b"
UPSTREAMS = {"openai/gpt-oss-120b": 0, "hf:openai/gpt-oss-120b": 1}  # NVIDIA and Together share the first
PROVIDERS = ("nvidia", "synthetic", "together")
ADMIN_KEY = "admin-soak-key"
WARMUP_S = 3.0


# --- the fake upstream process -----------------------------------------------------------------


def serve_fake(port: int, failure_rate: float, seed: int) -> None:
    """Run a fake upstream whose gpt-oss-120b deployments fail ``failure_rate`` of calls."""
    from aiohttp import web

    from synaxis_core.fake import Behavior, FakeUpstream

    failing = Behavior(kind="error", status=500, content="injected failure")
    rng = random.Random(seed)
    stats = {"calls": 0, "failed": 0}

    class FlakyUpstream(FakeUpstream):
        def _next_behavior(self, model: str) -> Behavior:
            if model in UPSTREAMS:
                stats["calls"] += 1
                if rng.random() < failure_rate:
                    stats["failed"] += 1
                    return failing
            return super()._next_behavior(model)

        def make_app(self) -> web.Application:
            app = super().make_app()

            async def soak_stats(_: web.Request) -> web.Response:
                return web.json_response(stats)

            app.router.add_get("/_soak/stats", soak_stats)
            return app

    FlakyUpstream(port=port, max_recorded=100).serve_forever()


# --- the load --------------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.sent = 0
        self.not_sent = 0
        """Open loop: requests due while ``--clients`` were already in flight (not sent)."""

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


async def one_request(client: httpx.AsyncClient, key: str, stream: bool, results: Results) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Predict Arsenal v Chelsea as JSON"}],
            "stream": stream}
    headers = {"authorization": f"Bearer {key}"}
    results.sent += 1
    started = time.perf_counter()
    try:
        if stream:
            async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
                payload = await response.aread()
            ok = response.status_code == 200 and payload.endswith(b"data: [DONE]\n\n") and b'{"error"' not in payload
            what = f"stream {response.status_code}" if response.status_code != 200 else "stream cut or error event"
        else:
            response = await client.post("/v1/chat/completions", json=body, headers=headers)
            ok = response.status_code == 200
            what = f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        ok, what = False, type(exc).__name__
    results.latencies.append(time.perf_counter() - started)
    if not ok:
        results.error(what)


async def run_load(url: str, key: str, args: argparse.Namespace, results: Results, until: float) -> None:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        counter = 0

        def next_is_stream() -> bool:
            nonlocal counter
            counter += 1
            return args.stream_every > 0 and counter % args.stream_every == 0

        if args.rate <= 0:  # closed loop
            async def client_loop() -> None:
                while time.monotonic() < until:
                    await one_request(client, key, next_is_stream(), results)

            await asyncio.gather(*(client_loop() for _ in range(args.clients)))
            return
        gate = asyncio.Semaphore(args.clients)
        tasks: set[asyncio.Task] = set()
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            if gate.locked():
                results.not_sent += 1  # the load generator's cap, not a gateway error
                continue

            async def bounded(stream: bool) -> None:
                async with gate:
                    await one_request(client, key, stream, results)

            task = asyncio.create_task(bounded(next_is_stream()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)


# --- the gateway ---------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def start_fake(root: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    """The fake upstream process (see ``serve_fake``) and its URL."""
    from synaxis_core.testing.server_process import free_port

    port = free_port()
    with (root / "fake.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve-fake", str(port), "--failure-rate", str(args.failure_rate),
             "--seed", str(args.seed)],
            stdout=subprocess.DEVNULL, stderr=log,
        )
    return process, f"http://127.0.0.1:{port}"


async def soak(args: argparse.Namespace, root: Path, fake_url: str) -> dict:
    from synaxis_core.testing.server_process import GatewayProcess
    environ = {
        "SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'synaxis.db'}",
        "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
        "SYNAXIS_LOAD_PLUGINS": ",".join((*PROVIDERS, "modelsdev")),
        "SYNAXIS_MODELSDEV_URL": fake_url + "/no-catalog-here.json",
        "SYNAXIS_UPSTREAM_RETRIES": "0",
    }
    for name in PROVIDERS:
        environ[f"{name.upper()}_BASE_URL"] = f"{fake_url}/{name}/v1"
        environ[f"{name.upper()}_API_KEY"] = f"{name}-soak-key"
    gateway = GatewayProcess(environ, log_path=root / "serve.log", args=("--no-demo", "--log-level", "warning"))
    try:
        async with httpx.AsyncClient(timeout=5) as probe:
            for _ in range(100):
                try:
                    await probe.get(fake_url + "/_soak/stats")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        gateway.start()
        await gateway.wait_ready()
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as admin:
            created = await admin.post("/admin/tenants/soak/keys", headers={"authorization": f"Bearer {ADMIN_KEY}"})
            key = created.json()["key"]
        pid = gateway.process.pid  # type: ignore[union-attr]
        print(f"gateway pid {pid} on {gateway.url}; fake upstream on {fake_url}; logs in {root}", flush=True)

        warmup = Results()
        await run_load(gateway.url, key, args, warmup, time.monotonic() + WARMUP_S)
        rss_start = rss_mb(pid)
        results = Results()
        rss_samples = [rss_start]
        started = time.monotonic()
        until = started + args.seconds

        async def sample_rss() -> None:
            while time.monotonic() < until:
                await asyncio.sleep(5)
                rss_samples.append(rss_mb(pid))
                done = len(results.latencies)
                print(f"  {time.monotonic() - started:5.0f} s  {done} requests, {results.failed} client errors, "
                      f"RSS {rss_samples[-1]:.1f} MB", flush=True)

        sampler = asyncio.create_task(sample_rss())
        await run_load(gateway.url, key, args, results, until)
        elapsed = time.monotonic() - started
        sampler.cancel()
        rss_end = rss_mb(pid)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as admin:
            metrics = (await admin.get("/metrics")).text
            upstream = (await admin.get(fake_url + "/_soak/stats")).json()
            admin_headers = {"authorization": f"Bearer {ADMIN_KEY}"}
            models = (await admin.get("/admin/models", headers=admin_headers)).json()
            await asyncio.sleep(1.0)  # the ledger flushes every 0.5 s
            usage = (await admin.get("/admin/usage", headers=admin_headers)).json()
    finally:
        gateway.stop()
    ledger_rows = sum(r["requests"] for r in usage)
    disabled = [m["id"] for m in models if m["id"].startswith("gpt-oss-120b") and not m["active"]]
    n = len(results.latencies)
    report = {
        "seconds": round(elapsed, 1),
        "mode": f"open loop {args.rate}/s (at most {args.clients} in flight)" if args.rate > 0 else f"closed loop, {args.clients} clients",
        "stream_share": f"1 in {args.stream_every}" if args.stream_every else "none",
        "requests": n,
        "requests_per_s": round(n / elapsed, 1),
        "client_errors": results.failed,
        "client_error_rate": round(results.failed / max(1, results.sent), 5),
        "errors": results.errors,
        "not_sent_on_schedule": results.not_sent,
        "latency_ms": {q: round(percentile(results.latencies, v) * 1000, 1)
                       for q, v in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))},
        "rss_mb": {"after_warmup": round(rss_start, 1), "end": round(rss_end, 1), "max": round(max(rss_samples), 1)},
        "upstream_calls": upstream["calls"],
        "upstream_failed": upstream["failed"],
        "upstream_failure_rate": round(upstream["failed"] / max(1, upstream["calls"]), 4),
        "failovers": metric(metrics, "synaxis_failovers_total"),
        "deployment_disables": metric(metrics, "synaxis_deployment_disables_total"),
        "disabled_at_end": disabled,
        "ledger_rows": ledger_rows,
        "ledger_expected": warmup.sent + results.sent,
    }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s, open loop (0: closed loop)")
    parser.add_argument("--clients", type=int, default=64, help="requests in flight at most (closed loop: clients)")
    parser.add_argument("--failure-rate", type=float, default=0.10, help="share of upstream calls answering 500")
    parser.add_argument("--stream-every", type=int, default=4, help="stream one request in N (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-error-rate", type=float, default=0.005,
                        help="exit 1 above this (every deployment failing 10%%: ~0.1%% is the floor)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--serve-fake", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake, args.failure_rate, args.seed)
        return 0
    root = Path(tempfile.mkdtemp(prefix="synaxis-soak-"))
    fake, fake_url = start_fake(root, args)
    try:
        report = asyncio.run(soak(args, root, fake_url))
    finally:
        fake.terminate()
        fake.wait(10)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["client_error_rate"] <= args.max_error_rate else 1


if __name__ == "__main__":
    sys.exit(main())
