"""py-spy under load: record collapsed stacks of a running process and summarise them
by package (inclusive: a sample counts once for each package on its stack), by the
functions at the top of the stack (self time) and by the steps of the hot path.

Only samples of the thread holding the GIL are kept (``--gil``): the shares are of the
Python CPU time, and an idle thread blocked in C (aiosqlite's worker) is not counted."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+?)(?::\d+)?\)$")
GROUPS = (
    ("synaxis_core", "synaxis (our code)"), ("synaxis_synthetic", "synaxis (our code)"),
    ("litestar", "litestar"), ("uvicorn", "uvicorn"), ("h11", "h11 (uvicorn's HTTP parser)"),
    ("httptools", "httptools"), ("pyreqwest", "pyreqwest (Python side)"), ("httpx", "httpx"),
    ("httpcore", "httpcore"), ("aiohttp", "aiohttp"), ("msgspec", "msgspec"),
    ("prometheus_client", "prometheus_client"), ("sqlalchemy", "sqlalchemy"), ("aiosqlite", "aiosqlite"),
    ("tenacity", "tenacity"), ("multidict", "multidict/yarl"), ("yarl", "multidict/yarl"),
    ("asyncio", "asyncio (event loop)"), ("uvloop", "uvloop"), ("selectors", "asyncio (event loop)"),
)
STEPS = (
    ("uvicorn request parsing", "Protocol.data_received (uvicorn"), ("litestar app (other routes)", "Litestar.__call__"),
    ("chat completions (plain ASGI)", "_serve (synaxis_core"),
    ("  decode_chat_request", "decode_chat_request"), ("  Gateway.authenticate", "Gateway.authenticate"),
    ("  TenantGate.admit", "TenantGate.admit"), ("  Router.plan", "Router.plan"),
    ("  Router.complete (upstream call)", "Router.complete"),
    ("    pyreqwest call (direct_send)", "direct_send (synaxis_core"), ("    tenacity", "tenacity/"),
    ("  process_response (think tags)", "process_response"), ("  account (metrics, ledger)", "account (synaxis"),
    ("ledger writer task", "LedgerWriter._run"), ("registry/auth poll loop", "Gateway._poll_loop"),
    ("prometheus_client (anywhere)", "prometheus_client/"),
)
SKIP = ("click", "stdlib/other")


def py_spy() -> str:
    path = Path(sys.executable).with_name("py-spy")
    if not path.exists():
        raise SystemExit("py-spy is not installed: run `bash bench/setup.sh`")
    return str(path)


def record(pid: int, seconds: float, output: Path, cpus: str) -> subprocess.Popen:
    """Start sampling ``pid`` for ``seconds`` (raw collapsed stacks to ``output``)."""
    command = ["taskset", "-c", cpus, py_spy(), "record", "--pid", str(pid), "--duration", str(int(seconds)),
               "--rate", "250", "--gil", "--nonblocking", "--format", "raw", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _group(file: str) -> str:
    top = file.split("/", 1)[0]
    for prefix, label in GROUPS:
        if top == prefix or file.startswith(prefix + "/"):
            return label
    return "stdlib/other" if "/" not in file or top in ("<frozen", "threading.py") else top


def summarise(raw: Path, top: int = 25) -> str:
    """A text report: samples by package (inclusive) and the top self-time functions."""
    inclusive: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    leaf_group: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [FRAME.match(f) for f in stack.split(";")]
        frames = [f for f in frames if f is not None]
        if not frames:
            continue
        total += n
        for group in {_group(f["file"]) for f in frames}:
            inclusive[group] += n
        leaf = frames[-1]
        self_time[f"{leaf['func']} ({leaf['file']})"] += n
        leaf_group[_group(leaf["file"])] += n
    if not total:
        return "py-spy recorded no samples"
    lines = [f"{total} samples", "", "inclusive, by package (a sample counts once per package on its stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {g}" for g, n in inclusive.most_common() if g not in SKIP]
    lines += ["", "self time, by package of the innermost frame:"]
    lines += [f"  {100 * n / total:5.1f}%  {g}" for g, n in leaf_group.most_common()]
    lines += ["", "inclusive, steps of the hot path:"]
    shares = inclusive_functions(raw, [needle for _, needle in STEPS])
    lines += [f"  {shares[needle]:5.1f}%  {label}" for label, needle in STEPS]
    lines += ["", f"self time, top {top} functions:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in self_time.most_common(top)]
    return "\n".join(lines)


def inclusive_functions(raw: Path, needles: list[str]) -> dict[str, float]:
    """Share of samples whose stack contains a frame matching each needle (``func (file``)."""
    hits: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for needle in needles:
            if needle in stack:
                hits[needle] += int(count)
    return {needle: 100 * hits[needle] / total if total else 0.0 for needle in needles}
