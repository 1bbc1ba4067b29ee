"""CPU cost of one upstream call through the provider (``provider.chat`` / ``.stream``).

Run: ``.venv/bin/python bench/upstream_client.py [--calls N] [--concurrency C] [--rounds R]
[--uvloop] [--baseline SRC] [--busy TRIES]``.

The upstream is a minimal HTTP/1.1 server in a child process (uvloop, keep-alive, fixed
answers from ``bench/harness/fixtures.py``: the bench completion, and its 10-chunk SSE
stream), pinned to the other CPU when there are two. The client makes ``N`` calls at
concurrency ``C`` per round and prints, per call, the CPU time of the whole client
process (event loop and pyreqwest's Rust threads, from ``/proc``), that of the event
loop's thread alone, and the wall time, each the median of ``R`` rounds after a warm-up.

``--baseline SRC``: also measure the ``synaxis_core`` package found in the directory
``SRC`` (another checkout's ``src``, e.g. from ``git worktree add``), copied under the
name ``synaxis_baseline``, in the same process, rounds alternating with the working
tree's: on a shared machine, figures from separate runs differ by more than the change
being measured.

``--busy TRIES``: the deadline probe: streams from a drip upstream (one byte every
0.1 s, never a whole event) due by 1 s (``first_chunk_by``; before it existed, the
router's ``asyncio.timeout`` around the first ``anext``) while a loop callback blocks
the loop for 0.5 s across the deadline; prints how many timed out, and when.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.fixtures import completion_body, sse_body  # noqa: E402
from harness.procs import cpu_seconds, free_port  # noqa: E402

SERVER = r"""
import asyncio, sys
import uvloop
COMPLETION, SSE = sys.argv[2].encode(), sys.argv[3].encode()
def head(ctype, n):
    return (f"HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {n}\r\n\r\n").encode()
OK = head("application/json", len(COMPLETION)) + COMPLETION
STREAM = head("text/event-stream", len(SSE)) + SSE
DRIP = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"

class Proto(asyncio.Protocol):
    def connection_made(self, transport):
        self.t, self.buf = transport, b""
    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            headers = self.buf[:end].lower()
            length = 0
            for line in headers.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            if b"/drip" in headers.split(b"\r\n", 1)[0]:
                self.t.write(DRIP)
                asyncio.ensure_future(self.drip())
                return
            self.t.write(STREAM if b"text/event-stream" in headers else OK)
    async def drip(self):
        while not self.t.is_closing():
            self.t.write(b"1\r\n:\r\n")
            await asyncio.sleep(0.1)

async def main():
    server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
uvloop.run(main())
"""

BODY = {"model": "bench-upstream", "messages": [{"role": "user", "content": "hi"}]}


async def one_round(provider, stream: bool, calls: int, concurrency: int) -> tuple[float, float, float]:
    async def worker(share: int) -> None:
        for _ in range(share):
            if stream:
                n = 0
                async for _ in provider.stream(BODY):
                    n += 1
                assert n == 10, n
            else:
                await provider.chat(BODY)

    c0, t0, w0 = cpu_seconds(os.getpid()), time.thread_time(), time.perf_counter()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    c1, t1, w1 = cpu_seconds(os.getpid()), time.thread_time(), time.perf_counter()
    return (c1 - c0) / calls * 1e6, (t1 - t0) / calls * 1e6, (w1 - w0) / calls * 1e6


async def measure(providers: dict, calls: int, concurrency: int, count: int) -> None:
    for stream in (False, True):
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in providers}
        for r in range(count + 1):
            for name, provider in providers.items():  # alternating: the same conditions for each
                result = await one_round(provider, stream, calls, concurrency)
                if r:  # the first round warms up (connections, caches)
                    figures[name].append(result)
        for name, rows in figures.items():
            cpu, loop_cpu, wall = (statistics.median(column) for column in zip(*rows))
            label = "stream" if stream else "chat  "
            print(f"{label} {name:9s} CPU {cpu:6.1f} µs/call  loop thread {loop_cpu:6.1f} µs/call  wall {wall:6.1f} µs/call")


def baseline_package(src: str) -> str:
    """A copy of ``src``'s ``synaxis_core`` renamed ``synaxis_baseline``, importable."""
    import re
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="synaxis-baseline-"))
    shutil.copytree(Path(src) / "synaxis_core", root / "synaxis_baseline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in (root / "synaxis_baseline").rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\bsynaxis_core\b", "synaxis_baseline", text))
    sys.path.insert(0, str(root))
    return "synaxis_baseline"


async def busy_probe(provider, tries: int) -> None:
    loop = asyncio.get_running_loop()
    base = provider.base_url
    provider.base_url = base.rsplit("/", 1)[0] + "/drip"
    new_api = _has_first_chunk_by(provider)
    results = []
    for _ in range(tries):
        start = loop.time()
        loop.call_at(start + 0.75, time.sleep, 0.5)  # the loop is busy across the deadline
        gen = provider.stream(BODY, first_chunk_by=start + 1.0) if new_api else provider.stream(BODY)

        async def first():
            if new_api:
                return await anext(gen)
            async with asyncio.timeout_at(start + 1.0):  # what the router did before first_chunk_by
                return await anext(gen)

        task = asyncio.ensure_future(first())
        await asyncio.wait([task], timeout=4.0)  # a future, not a cancellation: not exposed to the race
        if task.done():
            exc = task.exception()
            results.append(f"{type(exc).__name__} at {loop.time() - start:.2f} s" if exc else "a chunk?")
        else:
            results.append("no timeout within 4 s")
            while not task.done():  # each cancel may be lost too
                task.cancel()
                await asyncio.sleep(0.05)
        await gen.aclose()
    provider.base_url = base
    fired = sum("at " in r for r in results)
    print(f"busy-loop deadline probe: {fired}/{tries} timed out:", results)


def _has_first_chunk_by(provider) -> bool:
    import inspect

    return "first_chunk_by" in inspect.signature(provider.stream).parameters


async def main(args: argparse.Namespace) -> None:
    from synaxis_core.providers.base import OpenAICompatibleProvider
    from synaxis_core.settings import Settings

    port = free_port()
    cpus = "1" if (os.cpu_count() or 1) > 1 else "0"
    server = subprocess.Popen(["taskset", "-c", cpus, sys.executable, "-c", SERVER, str(port),
                               completion_body(), sse_body()])
    try:
        await asyncio.sleep(1.0)
        url = f"http://127.0.0.1:{port}/v1"
        providers = {"current": OpenAICompatibleProvider(Settings.from_env({}), name="bench", base_url=url)}
        if args.baseline:
            import importlib

            name = baseline_package(args.baseline)
            base = importlib.import_module(f"{name}.providers.base")
            settings = importlib.import_module(f"{name}.settings")
            providers["baseline"] = base.OpenAICompatibleProvider(settings.Settings.from_env({}), name="bench", base_url=url)
        await measure(providers, args.calls, args.concurrency, args.rounds)
        for name, provider in providers.items():
            if args.busy:
                print(name, end=" ")
                await busy_probe(provider, args.busy)
            await provider.aclose()
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", type=int, default=0, metavar="TRIES")
    parser.add_argument("--baseline", metavar="SRC", help="a src directory to compare with")
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(main(args))
    else:
        asyncio.run(main(args))
