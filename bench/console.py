"""Benchmark: the console's pages over a big ledger, on SQLite and PostgreSQL.

Run: ``python bench/console.py [--rows 1000000 10000000] [--db sqlite postgres]``.

For each database and row count it seeds ``usage_records`` in bulk (PostgreSQL:
``INSERT ... SELECT`` from ``generate_series`` in chunks of 1M rows; SQLite: a recursive
CTE, same chunks; the schema, its indexes included, comes from the migrations), spread
evenly over the last 60 days across 10 tenants and 20 deployments (2% errors), then
opens a gateway on it and times the console's pages in-process (the ASGI app, signed
in; server time: routing, the queries, the template, no network):

- the request log's first page, and page 1,000 reached through its keyset cursor
  (``?before=``; the cursor of the row that starts page 1,000 is looked up once, untimed);
- the same two for one tenant (``?tenant=``);
- for comparison, the raw ``LIMIT 50 OFFSET 49,950`` query that a page number would cost;
- the overview (today, the month, 30 days of the chart, the top spenders: one grouped scan
  of the month) and the usage page (30 days), cold, then with the closed days remembered
  (``console.daycache``: only today is queried).

Each figure is the median of a few runs. SQLite is a file under ``--dir`` (default a temporary directory); PostgreSQL
a throwaway database on ``SYNAXIS_TEST_POSTGRES`` (default the tests' local server),
dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

PG_ADMIN_URL = os.environ.get("SYNAXIS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_KEY = "bench-admin-key"
TENANTS = 10
MODELS = 20
SPAN_S = 60 * 86400
CHUNK = 1_000_000
PAGE = 50
DEEP_PAGE = 1000

COLUMNS = ("request_id, tenant_id, provider_model_id, global_model_id, requested_model, prompt_tokens, "
           "completion_tokens, cost_usd, latency_ms, status, http_status, attempts, stream, created_at")


def _pg_select(first: int, last: int, rows: int, now: datetime) -> str:
    return f"""
        INSERT INTO usage_records ({COLUMNS})
        SELECT 'bench-' || g, 1 + g % {TENANTS}, 'model-' || (g % {MODELS}), 'global-' || (g % {MODELS // 2}),
               'global-' || (g % {MODELS // 2}), 200 + g % 800, 50 + g % 300, (g % 1000) * 0.00001,
               80 + g % 400, CASE WHEN g % 50 = 0 THEN 'error' ELSE 'ok' END,
               CASE WHEN g % 50 = 0 THEN 502 ELSE 200 END, 1 + (g % 50 = 0)::int, g % 3 = 0,
               TIMESTAMPTZ '{now.isoformat()}' - make_interval(secs => (g::float8 * {SPAN_S}) / {rows})
        FROM generate_series({first}, {last}) AS g"""


def _sqlite_select(first: int, last: int, rows: int, now: datetime) -> str:
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): the same text here
    return f"""
        WITH RECURSIVE c(g) AS (SELECT {first} UNION ALL SELECT g + 1 FROM c WHERE g < {last})
        INSERT INTO usage_records ({COLUMNS})
        SELECT 'bench-' || g, 1 + g % {TENANTS}, 'model-' || (g % {MODELS}), 'global-' || (g % {MODELS // 2}),
               'global-' || (g % {MODELS // 2}), 200 + g % 800, 50 + g % 300, (g % 1000) * 0.00001,
               80 + g % 400, CASE WHEN g % 50 = 0 THEN 'error' ELSE 'ok' END,
               CASE WHEN g % 50 = 0 THEN 502 ELSE 200 END, 1 + (g % 50 = 0), g % 3 = 0,
               strftime('%Y-%m-%d %H:%M:%S', {now.timestamp()} - (g * {SPAN_S}.0) / {rows}, 'unixepoch') || '.000000'
        FROM c"""


async def seed(url: str, rows: int) -> float:
    """Migrate and fill the ledger; returns the seconds it took (indexes maintained throughout)."""
    from synaxis_core.db.engine import create_engine
    from synaxis_core.db.migrate import upgrade

    engine = create_engine(url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    started = time.perf_counter()
    try:
        await upgrade(engine)
        postgres = engine.dialect.name == "postgresql"
        async with engine.begin() as conn:
            for n in range(1, TENANTS + 1):
                await conn.execute(text("INSERT INTO tenants (name, active, created_at) VALUES (:n, :a, :t)"),
                                   {"n": f"tenant-{n}", "a": True, "t": now})
        for first in range(1, rows + 1, CHUNK):
            last = min(rows, first + CHUNK - 1)
            statement = (_pg_select if postgres else _sqlite_select)(first, last, rows, now)
            async with engine.begin() as conn:
                await conn.execute(text(statement))
            print(f"  seeded {last:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(url: str) -> dict[str, Any]:
    from synaxis_core.ledger.browse import Cursor
    from synaxis_core.runtime.gateway import Gateway
    from synaxis_core.server.app import create_app
    from synaxis_core.settings import Settings

    settings = Settings.from_env({"SYNAXIS_DATABASE_URL": url, "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
                                  "SYNAXIS_LOAD_PLUGINS": ""})
    gateway = await Gateway.open(settings)
    app = create_app(settings, gateway=gateway)
    app.state.gateway = gateway
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.bench") as client:
            login = await client.get("/ui/login")
            token = re.search(r'name="_login" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
            signed = await client.post("/ui/login", data={"_login": token, "key": ADMIN_KEY, "next": "/ui"})
            assert signed.status_code == 303, signed.text

            async def get(path: str) -> None:
                response = await client.get(path)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])

            async with gateway.engine.connect() as conn:
                offset = PAGE * (DEEP_PAGE - 1) - 1  # the last row of page 999: before= it is page 1,000
                deep = (await conn.execute(text(
                    "SELECT created_at, id FROM usage_records ORDER BY created_at DESC, id DESC "
                    f"LIMIT 1 OFFSET {offset}"))).one()
                tenant_deep = (await conn.execute(text(
                    "SELECT created_at, id FROM usage_records WHERE tenant_id = 3 ORDER BY created_at DESC, id DESC "
                    f"LIMIT 1 OFFSET {offset}"))).one()
            cursor = Cursor(_aware(deep[0]), deep[1]).encode()
            tenant_cursor = Cursor(_aware(tenant_deep[0]), tenant_deep[1]).encode()

            out["log first page"] = await timed(lambda: get("/ui/requests"), 7)
            out["log page 1,000 (keyset)"] = await timed(lambda: get(f"/ui/requests?before={cursor}"), 7)
            out["log first page, one tenant"] = await timed(lambda: get("/ui/requests?tenant=tenant-3"), 7)
            out["log page 1,000, one tenant"] = await timed(
                lambda: get(f"/ui/requests?tenant=tenant-3&before={tenant_cursor}"), 7)
            out["log first page, status=error"] = await timed(lambda: get("/ui/requests?status=error"), 5)

            async def offset_query() -> None:
                async with gateway.engine.connect() as conn:
                    await conn.execute(text(
                        "SELECT * FROM usage_records ORDER BY created_at DESC, id DESC "
                        f"LIMIT {PAGE} OFFSET {PAGE * (DEEP_PAGE - 1)}"))

            out["(raw OFFSET 49,950 query)"] = await timed(offset_query, 3)
            out["overview (cold: the month scanned)"] = await timed(lambda: get("/ui"), 1)
            out["overview (closed days cached)"] = await timed(lambda: get("/ui"), 3)
            out["usage, 30 days, one tenant (cold)"] = await timed(lambda: get("/ui/usage?tenant=tenant-3"), 1)
            out["usage, 30 days, one tenant (cached)"] = await timed(lambda: get("/ui/usage?tenant=tenant-3"), 3)
    finally:
        await gateway.close()
    return out


def _aware(moment: Any) -> datetime:
    if isinstance(moment, str):  # SQLite's text
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


async def run(db: str, rows: int, directory: Path) -> None:
    import asyncpg

    name = f"synaxis_bench_console_{uuid.uuid4().hex[:8]}"
    if db == "sqlite":
        path = directory / f"console-{rows}.db"
        path.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    try:
        print(f"{db}, {rows:,} rows: seeding", flush=True)
        seconds = await seed(url, rows)
        size = f", {path.stat().st_size / 2**20:,.0f} MiB" if db == "sqlite" else ""
        print(f"{db}, {rows:,} rows: seeded in {seconds:.0f} s{size}", flush=True)
        figures = await measure(url)
        print(f"\n{db}, {rows:,} rows: server time per page (median ms; min-max)")
        for label, times in figures.items():
            print(f"  {label:40s} {statistics.median(times):9.1f}   ({min(times):.1f}-{max(times):.1f})")
        print(flush=True)
    finally:
        if db == "postgres":
            admin = await asyncpg.connect(PG_ADMIN_URL)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        elif not os.environ.get("BENCH_KEEP_DB"):
            path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite files go")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="synaxis-bench-console-"))
    for rows in args.rows:
        for db in args.db:
            asyncio.run(run(db, rows, directory))


if __name__ == "__main__":
    main()
