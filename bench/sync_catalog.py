"""Benchmark of the catalog sync with a full-size models.dev catalog, on SQLite and PostgreSQL.

Run: ``python bench/sync_catalog.py`` (``--sqlite-only`` to skip PostgreSQL). It writes a
models.dev ``api.json`` with 150 providers of 40 models each (6,000 entries, 6,000
global models), registers 150 providers with one deployment per entry and no prices of
their own (so the sync prices all 6,000), serves the file from a local HTTP server
(``Last-Modified``, 304 on ``If-Modified-Since``) and times ``run_round(["catalog"])``:

* first sync: fetch + parse + insert 6,000 global models + price 6,000 provider models;
* unchanged, 304: the conditional request answers "not modified";
* unchanged, full: the stored state is dropped, so the whole catalog is fetched, parsed
  and compared, and nothing is written.

Targets: the first sync at most 5 s, an unchanged one at most 1 s. The exit status is 1
when a target is missed. PostgreSQL: a scratch database is created on
``SYNAXIS_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``)
and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from sqlalchemy import update

from synaxis_core import hookimpl
from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.db.models import CatalogSource
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.sync.providers import sync_providers
from synaxis_core.sync.runner import run_round
from synaxis_core.testing.plugin_manager import make_extensions, make_settings
from synaxis_core.types import ModelSpec
from synaxis_modelsdev import ModelsDevCatalog, parse_api_json

PROVIDERS, PER_PROVIDER = 150, 40
FIRST_LIMIT_S, UNCHANGED_LIMIT_S = 5.0, 1.0
PG_ADMIN = os.environ.get("SYNAXIS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def model_entry(p: int, i: int) -> dict:
    n = p * PER_PROVIDER + i
    return {
        "id": f"vendor{n % 97}/bench-model-{n}-instruct",
        "name": f"Bench Model {n} Instruct",
        "family": f"bench-{n % 31}",
        "attachment": n % 3 == 0,
        "reasoning": n % 2 == 0,
        "tool_call": True,
        "temperature": True,
        "knowledge": "2025-06",
        "release_date": "2026-01-01",
        "last_updated": "2026-06-01",
        "modalities": {"input": ["text", "image"] if n % 3 == 0 else ["text"], "output": ["text"]},
        "open_weights": True,
        "cost": {"input": round(0.05 + (n % 50) * 0.07, 2), "output": round(0.2 + (n % 40) * 0.11, 2)},
        "limit": {"context": 32768 * (1 + n % 8), "output": 8192},
    }


def build_catalog() -> dict:
    return {
        f"bench{p}": {
            "id": f"bench{p}", "env": [f"BENCH{p}_API_KEY"], "npm": "@ai-sdk/openai-compatible",
            "api": f"https://bench{p}.example/v1", "name": f"Bench {p}", "doc": "https://example.com",
            "models": {m["id"]: m for m in (model_entry(p, i) for i in range(PER_PROVIDER))},
        }
        for p in range(PROVIDERS)
    }


def bench_plugin(catalog: dict):
    class BenchPlugin:
        @hookimpl
        def register_providers(self, register, settings):
            for key, provider in catalog.items():
                specs = [
                    ModelSpec(id=f"{model_id.split('/')[-1]}-{key}", upstream_id=model_id)
                    for model_id in provider["models"]
                ]
                register(OpenAICompatibleProvider(
                    settings, name=key, base_url=provider["api"], models=specs, catalog_provider=key,
                ))

        @hookimpl
        def register_catalogs(self, register, settings):
            register(ModelsDevCatalog(settings))

    return BenchPlugin()


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api.json"
    finally:
        server.shutdown()
        server.server_close()


async def timed_round(settings, ext, sessions) -> tuple[float, dict]:
    start = time.perf_counter()
    reports = await run_round(settings, ext, sessions, ["catalog"])
    elapsed = time.perf_counter() - start
    return elapsed, {r.source: r for r in reports}


async def bench_database(name: str, url: str, catalog_url: str, catalog: dict) -> list[tuple[str, str, float, float]]:
    settings = make_settings({"SYNAXIS_DATABASE_URL": url, "SYNAXIS_MODELSDEV_URL": catalog_url})
    ext = make_extensions(bench_plugin(catalog), settings=settings)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        start = time.perf_counter()
        await sync_providers(sessions, ext)
        providers_s = time.perf_counter() - start

        first_s, first = await timed_round(settings, ext, sessions)
        assert first["catalog:modelsdev"].added == PROVIDERS * PER_PROVIDER, first
        assert first["prices:modelsdev"].updated == PROVIDERS * PER_PROVIDER, first
        not_modified_s, second = await timed_round(settings, ext, sessions)
        assert not any(r.changed for r in second.values()), second
        assert "not modified" in second["catalog:modelsdev"].notes[0], second
        async with sessions.begin() as session:  # forget the Last-Modified: a full fetch
            await session.execute(update(CatalogSource).values(etag=None, last_modified=None))
        full_s, third = await timed_round(settings, ext, sessions)
        assert not any(r.changed for r in third.values()), third
        assert third["catalog:modelsdev"].unchanged == PROVIDERS * PER_PROVIDER, third
    finally:
        await engine.dispose()
    return [
        (name, "start-up sync of 6,000 provider models (context)", providers_s, float("nan")),
        (name, "first catalog sync", first_s, FIRST_LIMIT_S),
        (name, "unchanged sync, 304 Not Modified", not_modified_s, UNCHANGED_LIMIT_S),
        (name, "unchanged sync, full fetch + compare", full_s, UNCHANGED_LIMIT_S),
    ]


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def main(sqlite_only: bool) -> int:
    catalog = build_catalog()
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "api.json").write_text(json.dumps(catalog))
        size_mb = (directory / "api.json").stat().st_size / 1e6
        print(f"catalog: {PROVIDERS} providers, {PROVIDERS * PER_PROVIDER} models, {size_mb:.1f} MB")
        start = time.perf_counter()
        parse_api_json((directory / "api.json").read_bytes())
        rows.append(("-", "parse api.json alone (context)", time.perf_counter() - start, float("nan")))
        with serve(directory) as catalog_url:
            rows += await bench_database("sqlite", f"sqlite+aiosqlite:///{directory / 'bench.db'}", catalog_url, catalog)
            if not sqlite_only:
                name = f"synaxis_bench_{uuid.uuid4().hex[:8]}"
                await _pg_admin(f'CREATE DATABASE "{name}"')
                base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
                try:
                    rows += await bench_database("postgresql", f"{base}/{name}", catalog_url, catalog)
                finally:
                    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    missed = 0
    print(f"{'database':<11} {'step':<50} {'seconds':>8}  target")
    for database, step, seconds, limit in rows:
        verdict = "" if limit != limit else ("ok" if seconds <= limit else "MISSED")
        target = "" if limit != limit else f"<= {limit:g} s {verdict}"
        missed += verdict == "MISSED"
        print(f"{database:<11} {step:<50} {seconds:>8.3f}  {target}")
    return 1 if missed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    sys.exit(asyncio.run(main(parser.parse_args().sqlite_only)))
