"""Benchmark: a response-cache hit against a miss to the nginx upstream, and what tracing costs.

Run: ``.venv/bin/python bench/cache_telemetry.py [--requests N] [--json]`` (after
``bash bench/setup.sh``: nginx). nginx (the fixed answer of ``bench/harness``) runs on
CPU 1 and ``synaxis serve`` on CPU 0; one client sends N requests one at a time on one
keep-alive connection (so latency is the gateway's own, not a queue's), and the gateway's
CPU time is read from ``/proc`` around them:

1. **the cache**: a miss (``x-synaxis-cache: off``: routed, sent to nginx, post-processed,
   accounted) against a hit (``x-synaxis-cache: on``, the entry stored by a first
   request), not streamed and streamed (a hit replays the answer as chunks);
2. **tracing**: the same misses with tracing off and with it on (``SYNAXIS_OTEL_ENDPOINT``
   pointed at a local OTLP/HTTP sink that answers 200): CPU per request;
3. **tracing off, in the hot path**: what the checks tracing and the cache add to a
   request when both are off (``telemetry.TRACER is not None``, ``record.span is not
   None``, the cache's three-field check), timed with ``timeit`` against the same
   number of empty statements.

Prints median and p90 latency, CPU µs per request, and the ratios.
"""

from __future__ import annotations

import argparse
import http.server
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import synaxis_target  # noqa: E402
from harness.fixtures import MODEL  # noqa: E402
from harness.nginx import start_nginx  # noqa: E402
from harness.procs import cpu_seconds, free_port, stop, wait_http  # noqa: E402

WARMUP = 200


def _request(port: int, body: bytes, key: str, stream: bool, cache: str) -> bytes:
    accept = "Accept: text/event-stream\r\n" if stream else ""
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {key}\r\nx-synaxis-cache: {cache}\r\n{accept}Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _one(sock: socket.socket, request: bytes) -> tuple[float, bytes]:
    """Seconds for one whole response, and its head."""
    started = time.perf_counter()
    sock.sendall(request)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, _, body = buffer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"request failed: {head.decode(errors='replace')[:300]}")
    length = None
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while (len(body) < length) if length is not None else not body.endswith(b"0\r\n\r\n"):
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the gateway closed the connection")
        body += data
    return time.perf_counter() - started, head


def measure(port: int, pid: int, key: str, *, stream: bool, cache: str, n: int) -> dict[str, float]:
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64,
                       "temperature": 0, **({"stream": True} if stream else {})}).encode()
    request = _request(port, body, key, stream, cache)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(WARMUP):
            _, head = _one(sock, request)
        expected = b"x-synaxis-cache: hit" if cache == "on" else b"x-synaxis-cache: miss"
        if expected not in head.lower():
            raise SystemExit(f"expected {expected.decode()} in {head.decode(errors='replace')}")
        cpu = cpu_seconds(pid)
        samples = sorted(_one(sock, request)[0] * 1000 for _ in range(n))
        cpu = cpu_seconds(pid) - cpu
    return {"p50_ms": statistics.median(samples), "p90_ms": samples[int(n * 0.9)], "cpu_us": cpu / n * 1e6}


class _Sink(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that accepts and drops every export."""

    received = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).received += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def start_gateway(root: Path, upstream: str, extra: dict[str, str]) -> tuple[object, int, str]:
    env, key = synaxis_target.prepare(root, upstream, think=True)
    env.update(extra)
    port = free_port()
    proc = synaxis_target.start(env, port, "0", root / "synaxis.log")
    wait_http(port, proc, path="/health")
    return proc, port, key


def off_path_checks(loops: int = 2_000_000) -> float:
    """Nanoseconds a request spends on the tracing and cache checks with both off."""
    setup = (
        "import synaxis_core.telemetry as telemetry\n"
        "from synaxis_core.types import ChatRequest\n"
        "from synaxis_core.tenants import TenantInfo\n"
        "request = ChatRequest({'messages': []}, model='m')\n"
        "tenant = TenantInfo(id=1, name='t')\n"
        "class R: span = None\n"
        "record = R(); token = span = None\n"
    )
    checks = (
        "if telemetry.TRACER is not None: pass\n"  # Pipeline.complete
        "if request.cache is not None or request.cache_ttl_s or tenant.cache_ttl_s: pass\n"
        "if telemetry.TRACER is not None: pass\n"  # Router.plan
        "if telemetry.TRACER is not None: pass\n"  # Router._first_success, per attempt
        "if span is not None: pass\n"  # the attempt's result
        "if record.span is not None: pass\n"  # Pipeline._won
        "if record.span is not None: pass\n"  # Accounting.record
        "if token is not None: pass\n"  # Pipeline.complete's finally
    )
    empty = "pass\n" * 8
    best = min(timeit.repeat(checks, setup, number=loops, repeat=5))
    floor = min(timeit.repeat(empty, setup, number=loops, repeat=5))
    return (best - floor) / loops * 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.requests
    results: dict[str, dict[str, float] | float] = {}
    with tempfile.TemporaryDirectory(prefix="synaxis-bench-cache-") as tmp:
        root = Path(tmp)
        nginx_port = free_port()
        nginx = start_nginx(root / "nginx", nginx_port, "1")
        sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        try:
            wait_http(nginx_port, nginx)
            upstream = f"http://127.0.0.1:{nginx_port}/v1"
            proc, port, key = start_gateway(root / "off", upstream, {})
            try:
                for stream in (False, True):
                    for cache in ("off", "on"):
                        label = f"{'stream' if stream else 'json'} {'hit' if cache == 'on' else 'miss'}"
                        results[label] = measure(port, proc.pid, key, stream=stream, cache=cache, n=n)  # type: ignore[attr-defined]
            finally:
                stop(proc)  # type: ignore[arg-type]
            tracing = {"SYNAXIS_OTEL_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}"}
            proc, port, key = start_gateway(root / "on", upstream, tracing)
            try:
                for stream in (False, True):
                    label = f"{'stream' if stream else 'json'} miss, tracing on"
                    results[label] = measure(port, proc.pid, key, stream=stream, cache="off", n=n)  # type: ignore[attr-defined]
            finally:
                stop(proc)  # type: ignore[arg-type]
        finally:
            sink.shutdown()
            stop(nginx)
    results["tracing and cache off: checks per request (ns)"] = off_path_checks()
    results["OTLP exports received"] = float(_Sink.received)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{n} sequential requests per line, one keep-alive connection; gateway on CPU 0, nginx on CPU 1\n")
    print(f"{'':30} {'p50 ms':>8} {'p90 ms':>8} {'CPU µs/req':>11}")
    for label, row in results.items():
        if isinstance(row, dict):
            print(f"{label:30} {row['p50_ms']:8.3f} {row['p90_ms']:8.3f} {row['cpu_us']:11.0f}")
    for kind in ("json", "stream"):
        miss, hit = results[f"{kind} miss"], results[f"{kind} hit"]
        traced = results[f"{kind} miss, tracing on"]
        print(f"\n{kind}: a hit takes {hit['p50_ms'] / miss['p50_ms']:.2f}x the latency and "  # type: ignore[index]
              f"{hit['cpu_us'] / miss['cpu_us']:.2f}x the CPU of a miss; "  # type: ignore[index]
              f"tracing on costs {traced['cpu_us'] - miss['cpu_us']:+.0f} µs CPU per miss")  # type: ignore[index]
    checks = results["tracing and cache off: checks per request (ns)"]
    print(f"\nwith tracing and the cache off, their checks cost {checks:.0f} ns per request "
          f"({checks / 1000 / results['json miss']['cpu_us'] * 100:.3f}% of a miss's CPU)")  # type: ignore[index]
    print(f"OTLP exports received while tracing: {int(_Sink.received)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
