"""The load generator: wrk (Debian's package) with a Lua script that POSTs the fixed
request and prints its summary as one JSON line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

SCRIPT = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def write_script(path: Path, body: str, token: str | None, stream: bool = False) -> Path:
    """``stream``: also ``Accept: text/event-stream`` (nginx and the proxies answer the SSE
    stream on it; Synaxis on the body's ``stream``). wrk counts a request when the whole
    response has arrived, so its requests/s are then whole streams/s."""
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    if stream:
        auth += '\nwrk.headers["Accept"] = "text/event-stream"'
    path.write_text(SCRIPT.format(body=body, auth=auth))
    return path


def run(port: int, script: Path, connections: int, seconds: float, cpus: str) -> dict:
    """One wrk run (one thread) pinned to ``cpus``; returns the parsed summary.

    ``rps`` is requests per second over the run, latencies in ms, ``errors`` the sum of
    wrk's error counters (non-2xx/3xx answers included).
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `bash bench/setup.sh`")
    command = ["taskset", "-c", cpus, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}/v1/chat/completions"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(line[len("WRKJSON "):])
    seconds_run = raw["duration_us"] / 1e6
    return {
        "connections": connections,
        "requests": raw["requests"],
        "seconds": seconds_run,
        "rps": raw["requests"] / seconds_run if seconds_run else 0.0,
        "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
        "errors": sum(raw[k] for k in ("connect", "read", "write", "status", "timeout")),
    }
