"""Benchmark: rows per second through ``LedgerWriter`` on SQLite and PostgreSQL.

Run: ``python bench/ledger_insert.py [ROWS]`` (default 50,000 rows per run). For each
database and batch size it records ROWS entries as fast as ``record`` accepts them,
then ``aclose()``s the writer, and prints rows/second end to end (the first ``record``
to the last row committed) and the mean/max time of one batch INSERT.

SQLite is a file in a temporary directory; PostgreSQL is a throwaway database created
on ``SYNAXIS_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``, as
the tests use) and dropped afterwards; it is skipped when unreachable.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.db.models import UsageRecord
from synaxis_core.ledger.writer import LedgerWriter, UsageEntry

PG_ADMIN_URL = os.environ.get("SYNAXIS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BATCH_SIZES = (100, 500, 2000)


def entries(run: str, count: int) -> list[UsageEntry]:
    return [
        UsageEntry(
            request_id=f"{run}-{n}", tenant_id=n % 7, provider_model_id=f"model-{n % 13}",
            global_model_id=f"global-{n % 5}", requested_model=f"global-{n % 5}", prompt_tokens=n % 4000,
            completion_tokens=n % 900, cost_usd=n * 1e-7, latency_ms=123.4, attempts=1, stream=bool(n % 2),
        )
        for n in range(count)
    ]


async def one_run(url: str, rows: int, batch_size: int) -> tuple[float, list[float]]:
    engine = create_engine(url)
    flushes: list[float] = []
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        items = entries(uuid.uuid4().hex[:8], rows)
        writer = LedgerWriter(sessions, batch_size=batch_size, on_flush=lambda n, s: flushes.append(s))
        writer.start()
        started = time.perf_counter()
        for item in items:
            await writer.record(item)
        await writer.aclose()
        elapsed = time.perf_counter() - started
        async with sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(UsageRecord))
        assert stored >= rows and writer.written == rows, (stored, writer.written)
    finally:
        await engine.dispose()
    return rows / elapsed, flushes


async def pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def report(name: str, batch_size: int, rate: float, flushes: list[float]) -> None:
    print(
        f"{name:<10} batch {batch_size:>5}: {rate:>9,.0f} rows/s   "
        f"batch INSERT mean {statistics.mean(flushes) * 1000:6.1f} ms, max {max(flushes) * 1000:6.1f} ms"
    )


async def main(rows: int) -> None:
    print(f"{rows:,} rows per run through LedgerWriter (record -> aclose)")
    with tempfile.TemporaryDirectory() as tmp:
        for batch_size in BATCH_SIZES:
            url = f"sqlite+aiosqlite:///{Path(tmp) / f'ledger-{batch_size}.db'}"
            report("sqlite", batch_size, *await one_run(url, rows, batch_size))

    name = f"synaxis_bench_{uuid.uuid4().hex[:10]}"
    try:
        await pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        print(f"postgresql skipped: {PG_ADMIN_URL} is unreachable ({type(exc).__name__}: {exc})")
        return
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        for batch_size in BATCH_SIZES:
            report("postgresql", batch_size, *await one_run(f"{base}/{name}", rows, batch_size))
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
