"""Benchmark: ``try_acquire`` calls per second on the memory and Redis backends.

    python bench/limits_backends.py [--redis-url redis://127.0.0.1:6379/0] [--calls N]

Each backend is measured with one coroutine calling in a loop and with 32 coroutines
calling concurrently, all on one limiter key whose limit is never reached (window 1 s,
so the log is pruned continuously as on a busy deployment). Redis runs under a random
key prefix whose keys are deleted afterwards; it is skipped when unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.limits.redis import RedisBackend

CONCURRENCY = 32
LIMIT = 10**12


async def _loop(backend: StateBackend, key: str, calls: int) -> None:
    for _ in range(calls):
        await backend.try_acquire(key, LIMIT, window_s=1.0)


async def measure(backend: StateBackend, calls: int, concurrency: int) -> float:
    """Calls per second of ``try_acquire`` with ``concurrency`` coroutines."""
    key = f"bench:{uuid.uuid4().hex}"
    await _loop(backend, key, min(calls // 10, 1000))  # warm-up: scripts loaded, pool filled
    per_task = calls // concurrency
    started = time.perf_counter()
    await asyncio.gather(*(_loop(backend, key, per_task) for _ in range(concurrency)))
    return per_task * concurrency / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_url = os.environ.get("SYNAXIS_TEST_REDIS", "redis://127.0.0.1:6379/0")
    parser.add_argument("--redis-url", default=default_url)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per Redis measurement (memory: 20x)")
    args = parser.parse_args()

    rows: list[tuple[str, int, int, float]] = []
    memory = MemoryBackend()
    for concurrency in (1, CONCURRENCY):
        calls = args.calls * 20
        rows.append(("memory", concurrency, calls, await measure(memory, calls, concurrency)))

    redis_backend = RedisBackend.from_url(args.redis_url, prefix=f"synaxis-bench:{uuid.uuid4().hex}:")
    if await redis_backend.ping():
        try:
            for concurrency in (1, CONCURRENCY):
                rate = await measure(redis_backend, args.calls, concurrency)
                rows.append(("redis", concurrency, args.calls, rate))
        finally:
            keys = [k async for k in redis_backend.client.scan_iter(match=f"{redis_backend.prefix}*")]
            if keys:
                await redis_backend.client.delete(*keys)
    else:
        print(f"Redis at {args.redis_url} is unreachable: skipped")
    await redis_backend.aclose()

    print(f"{'backend':<8} {'coroutines':>10} {'calls':>9} {'calls/s':>11} {'µs/call':>8}")
    for name, concurrency, calls, rate in rows:
        print(f"{name:<8} {concurrency:>10} {calls:>9} {rate:>11,.0f} {1e6 / rate:>8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
