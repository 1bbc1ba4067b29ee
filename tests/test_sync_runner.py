"""The sync runner: rounds, the one-syncer lock on every backend, and the schedule."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os

import pytest
from click.testing import CliRunner

from synaxis_core import hookimpl
from synaxis_core.cli import cli
from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.sync import runner
from synaxis_core.sync.lock import lock_kind
from synaxis_core.sync.runner import run_round, run_schedule, was_skipped
from synaxis_core.testing.plugin_manager import make_extensions, make_settings
from synaxis_core.types import CatalogData, DiscoveredModel, GlobalModelInfo, ModelSpec

SPEC = ModelSpec(id="a-acme", upstream_id="org/A")


class GatedProvider(OpenAICompatibleProvider):
    """Discovery that waits for ``release`` (so a round can be held open)."""

    def __init__(self, settings) -> None:
        super().__init__(settings, name="acme", base_url="http://127.0.0.1:9/v1", models=[SPEC])
        self.entered, self.release = asyncio.Event(), asyncio.Event()
        self.release.set()
        self.calls = 0

    async def discover(self):
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        return [DiscoveredModel(upstream_id="org/A")]


class StaticCatalog:
    name = "static"

    def __init__(self) -> None:
        self.calls = 0

    async def fetch(self, client, state):
        self.calls += 1
        return CatalogData(source=self.name, models=[GlobalModelInfo(id="a", name="A")])


def extensions(settings):
    found = {}

    class Plugin:
        @hookimpl
        def register_providers(self, register, settings):
            found["provider"] = GatedProvider(settings)
            register(found["provider"])

        @hookimpl
        def register_catalogs(self, register, settings):
            found["catalog"] = StaticCatalog()
            register(found["catalog"])

    return make_extensions(Plugin(), settings=settings), found["provider"], found["catalog"]


async def runner_sessions(url: str):
    """A session factory on its own engine, as a separate runner process would have."""
    engine = create_engine(url)
    await upgrade(engine)
    return engine, session_factory(engine)


async def two_runners_at_once(url: str, settings) -> tuple[list, list, list]:
    engine_a, sessions_a = await runner_sessions(url)
    engine_b, sessions_b = await runner_sessions(url)
    try:
        ext, provider, _ = extensions(settings)
        provider.release.clear()
        first = asyncio.create_task(run_round(settings, ext, sessions_a, ["discover"]))
        await asyncio.wait_for(provider.entered.wait(), 10)
        second = await run_round(settings, ext, sessions_b, ["discover"])
        provider.release.set()
        first_reports = await first
        after = await run_round(settings, ext, sessions_b, ["discover"])  # the lock was released
        return first_reports, second, after
    finally:
        await engine_a.dispose()
        await engine_b.dispose()


async def test_two_runners_at_once_one_syncs_the_other_skips(database_url):
    settings = make_settings({"SYNAXIS_DATABASE_URL": database_url})
    first, second, after = await two_runners_at_once(database_url, settings)
    assert [r.source for r in first] == ["discover:acme"]
    assert was_skipped(second) and second[0].skipped == 1
    expected = "PostgreSQL advisory lock" if database_url.startswith("postgresql") else "lock file"
    assert "another runner is syncing" in second[0].notes[0] and expected in second[0].notes[0]
    assert not was_skipped(after)


@pytest.mark.redis
async def test_the_redis_lock_is_used_when_redis_is_configured(sqlite_url, redis_url):
    settings = make_settings({"SYNAXIS_REDIS_URL": redis_url})
    engine = create_engine(sqlite_url)
    assert lock_kind(settings, engine) == "redis"
    await engine.dispose()
    first, second, after = await two_runners_at_once(sqlite_url, settings)
    assert not was_skipped(first) and was_skipped(second) and "Redis lock" in second[0].notes[0]
    assert not was_skipped(after)


async def test_a_round_runs_its_targets_in_order(sqlite_url):
    settings = make_settings()
    engine, sessions = await runner_sessions(sqlite_url)
    ext, _, catalog = extensions(settings)
    reports = await run_round(settings, ext, sessions, ["discover", "catalog", "providers"])
    assert [r.source for r in reports] == ["providers", "catalog:static", "prices:static", "discover:acme"]
    assert catalog.calls == 1
    with pytest.raises(ValueError, match="unknown sync targets"):
        await run_round(settings, ext, sessions, ["everything"])
    await engine.dispose()


async def test_the_schedule_survives_a_failed_round(sqlite_url, monkeypatch, caplog):
    settings = make_settings(discover_interval_s=0.02, catalog_interval_s=3600)
    engine, sessions = await runner_sessions(sqlite_url)
    ext, provider, catalog = extensions(settings)
    real, attempts = runner.discover_models, []

    async def flaky(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(runner, "discover_models", flaky)
    rounds: list[list[str]] = []
    stop = asyncio.Event()

    def on_reports(reports):
        rounds.append([r.source for r in reports])
        if len(rounds) == 3:
            stop.set()

    with caplog.at_level(logging.ERROR, logger="synaxis_core.sync.runner"):
        await asyncio.wait_for(run_schedule(settings, ext, sessions, stop=stop, on_reports=on_reports), 10)
    assert "database went away" in caplog.text and "failed" in caplog.text
    assert rounds[0] == ["providers", "catalog:static", "prices:static"]  # discovery failed
    assert rounds[1:] == [["discover:acme"], ["discover:acme"]]  # the catalog waits for its interval
    assert catalog.calls == 1 and provider.calls == 2
    await engine.dispose()


async def test_a_skipped_round_waits_for_the_next_one(database_url):
    settings = make_settings(discover_interval_s=0.05)
    engine_a, sessions_a = await runner_sessions(database_url)
    engine_b, sessions_b = await runner_sessions(database_url)
    ext, provider, _ = extensions(settings)
    provider.release.clear()
    holder = asyncio.create_task(run_round(settings, ext, sessions_a, ["discover"]))
    await provider.entered.wait()
    seen, stop = [], asyncio.Event()

    def on_reports(reports):
        seen.append(was_skipped(reports))
        provider.release.set()
        if len(seen) == 2:
            stop.set()

    await asyncio.wait_for(run_schedule(settings, ext, sessions_b, ["discover"], stop=stop, on_reports=on_reports), 10)
    await holder
    assert seen == [True, False]
    await engine_a.dispose()
    await engine_b.dispose()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_cli_sync_with_the_lock_held_says_so(sqlite_url, tmp_path):
    env = {"SYNAXIS_DATABASE_URL": sqlite_url, "SYNAXIS_LOAD_PLUGINS": ""}
    CliRunner().invoke(cli, ["db", "upgrade"], env=env, catch_exceptions=False)
    fd = os.open(f"{tmp_path / 'synaxis.db'}.sync-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = CliRunner().invoke(cli, ["sync", "--json"], env=env, catch_exceptions=False)
    finally:
        os.close(fd)
    (report,) = json.loads(result.output)
    assert result.exit_code == 0 and report["source"] == "lock" and report["skipped"] == 1
    result = CliRunner().invoke(cli, ["sync", "--json"], env=env, catch_exceptions=False)
    assert [r["source"] for r in json.loads(result.output)] == ["providers", "catalog"]
