"""Benchmark: what ``kill -9`` costs the ledger, and what durable mode costs the requests.

Run: ``python bench/ledger_durability.py [SECONDS]`` (default 3 s per run).

1. Crash window. A child process runs a ``LedgerWriter`` (the gateway's default settings:
   batches of 500, ``flush_interval_s`` 0.5) with 2 or 50 concurrent clients; each "request"
   waits 5 ms (the upstream), then ``await writer.record(entry)``, then reports itself
   answered on stdout — as the gateway answers once ``record`` returns. After SECONDS the
   parent kills the child with SIGKILL and counts the answered requests missing from
   ``usage_records``: the rows, and the milliseconds of traffic they stand for.
2. Durable cost. In one process, 1 and 50 clients call ``record`` back to back for
   SECONDS, default vs ``durable=True``: rows/s and the latency of one ``record``.

SQLite is a file in a temporary directory; PostgreSQL a throwaway database on
``SYNAXIS_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
skipped when unreachable.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.db.models import UsageRecord
from synaxis_core.ledger.writer import LedgerWriter, UsageEntry

PG_ADMIN_URL = os.environ.get("SYNAXIS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CLIENTS = 50
UPSTREAM_S = 0.005


def entry(request_id: str) -> UsageEntry:
    return UsageEntry(request_id=request_id, tenant_id=1, provider_model_id="m", prompt_tokens=100, cost_usd=1e-5)


async def child(url: str, durable: bool, clients: int) -> None:
    """Serve "requests" until killed; one stdout line per answered request."""
    engine = create_engine(url)
    writer = LedgerWriter(session_factory(engine), durable=durable)
    writer.start()
    out = sys.stdout.fileno()
    print("ready", flush=True)

    async def client(c: int) -> None:
        for n in range(10**9):
            await asyncio.sleep(UPSTREAM_S)
            request_id = f"{c}-{n}"
            await writer.record(entry(request_id))
            os.write(out, f"{request_id}\n".encode())  # answered

    await asyncio.gather(*(client(c) for c in range(clients)))


async def crash_run(url: str, durable: bool, clients: int, seconds: float) -> tuple[int, int, float]:
    """(answered, missing from the ledger, answered per second) for one kill -9."""
    engine = create_engine(url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(UsageRecord.__table__.delete())
    command = [sys.executable, __file__, "--child", url, "durable" if durable else "default", str(clients)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    started = time.monotonic()
    await asyncio.sleep(seconds)
    os.kill(process.pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    answered = {line.strip().decode() for line in process.stdout.read().splitlines()}
    process.wait()
    async with session_factory(engine)() as session:
        stored = set(await session.scalars(select(UsageRecord.request_id)))
    await engine.dispose()
    return len(answered), len(answered - stored), len(answered) / elapsed


async def cost_run(url: str, durable: bool, clients: int, seconds: float) -> tuple[float, list[float]]:
    engine = create_engine(url)
    await upgrade(engine)
    writer = LedgerWriter(session_factory(engine), durable=durable)
    writer.start()
    latencies: list[float] = []
    run = uuid.uuid4().hex[:8]
    deadline = time.monotonic() + seconds

    async def client(c: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await writer.record(entry(f"{run}-{c}-{n}"))
            latencies.append(time.perf_counter() - started)
            n += 1

    started = time.monotonic()
    await asyncio.gather(*(client(c) for c in range(clients)))
    rate = len(latencies) / (time.monotonic() - started)
    await writer.aclose()
    await engine.dispose()
    return rate, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


async def bench(name: str, url: str, seconds: float) -> None:
    for clients, durable in ((2, False), (CLIENTS, False), (CLIENTS, True)):
        mode = "durable" if durable else "default"
        answered, missing, rate = await crash_run(url, durable, clients, seconds)
        print(
            f"{name:<10} kill -9, {clients:>2} clients, {mode:<7}: {answered:>7,} answered, {missing:>5,} missing "
            f"= {missing / rate * 1000 if rate else 0:6.0f} ms of traffic ({rate:,.0f} answered/s)"
        )
    for clients in (1, CLIENTS):
        for durable in (False, True):
            rate, latencies = await cost_run(url, durable, clients, seconds)
            print(
                f"{name:<10} {clients:>2} clients, {'durable' if durable else 'default':<7}: {rate:>8,.0f} records/s, "
                f"record p50 {pct(latencies, 50):7.3f} ms, p99 {pct(latencies, 99):7.3f} ms"
            )


async def pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await bench("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'ledger.db'}", seconds)
    name = f"synaxis_bench_{uuid.uuid4().hex[:10]}"
    try:
        await pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        print(f"postgresql skipped: {PG_ADMIN_URL} is unreachable ({type(exc).__name__}: {exc})")
        return
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        await bench("postgresql", f"{base}/{name}", seconds)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2], sys.argv[3] == "durable", int(sys.argv[4])))
    else:
        asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
