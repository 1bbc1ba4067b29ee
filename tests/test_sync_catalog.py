"""The catalog sync: ``global_models`` and per-provider prices, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from synaxis_core import hookimpl
from synaxis_core.cli import cli
from synaxis_core.db.models import CatalogSource, GlobalModel, ProviderModel
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.sync.catalog import sync_catalog
from synaxis_core.sync.providers import sync_providers
from synaxis_core.testing.plugin_manager import make_extensions
from synaxis_core.types import CatalogData, CatalogState, GlobalModelInfo, ModelSpec, ProviderPrice

FIXTURE_0623 = Path(__file__).parent / "fixtures" / "modelsdev_api_subset_2026-06-23.json"

GPT = GlobalModelInfo(id="gpt-oss-120b", name="GPT OSS 120B", family="gpt-oss", context_window=131072,
                      max_output=32768, input_price=0.1, output_price=0.5, capabilities={"reasoning": True})
R1 = GlobalModelInfo(id="deepseek-r1-0528", name="DeepSeek R1 0528", input_price=3.0, output_price=8.0)
PRICES = [
    ProviderPrice(catalog_provider="nvidia", model_id="openai/gpt-oss-120b", global_id="gpt-oss-120b",
                  input_price=0.0, output_price=0.0, context_window=128000),
    ProviderPrice(catalog_provider="togetherai", model_id="openai/gpt-oss-120b", global_id="gpt-oss-120b",
                  input_price=0.15, output_price=0.6, max_output=32000),
    ProviderPrice(catalog_provider="synthetic", model_id="hf:deepseek-ai/DeepSeek-R1-0528",
                  global_id="deepseek-r1-0528", input_price=3.0, output_price=8.0),
]


class FakeCatalog:
    """A catalog that answers what the test sets, honouring conditional requests."""

    name = "fake"

    def __init__(self, models=(GPT, R1), prices=PRICES, etag='"v1"') -> None:
        self.models, self.prices, self.etag = list(models), list(prices), etag
        self.states: list[CatalogState | None] = []
        self.snapshot: str | None = None
        self.fail = False

    async def fetch(self, client, state):
        self.states.append(state)
        if self.fail:
            raise RuntimeError("boom")
        if state is not None and state.etag == self.etag and self.snapshot is None:
            return CatalogData(source=self.name, not_modified=True, etag=self.etag)
        etag = None if self.snapshot else self.etag
        return CatalogData(source=self.name, models=self.models, prices=self.prices,
                           etag=etag, from_snapshot=self.snapshot)


def provider(settings, name, catalog_provider, specs):
    return OpenAICompatibleProvider(settings, name=name, base_url="http://127.0.0.1:9/v1",
                                    models=specs, catalog_provider=catalog_provider)


def plugin(catalog, **providers):
    class Plugin:
        @hookimpl
        def register_providers(self, register, settings):
            for name, (catalog_provider, specs) in providers.items():
                register(provider(settings, name, catalog_provider, specs))

        @hookimpl
        def register_catalogs(self, register, settings):
            register(catalog)

    return Plugin()


NV = ModelSpec(id="gpt-oss-120b-nv", upstream_id="openai/gpt-oss-120b")
TG = ModelSpec(id="gpt-oss-120b-tg", upstream_id="openai/gpt-oss-120b")
SYN = ModelSpec(id="deepseek-r1-0528-syn", upstream_id="hf:deepseek-ai/DeepSeek-R1-0528", output_price=9.0)


async def setup(sessions, catalog, **providers):
    ext = make_extensions(plugin(catalog, **providers))
    await sync_providers(sessions, ext)
    return ext


async def run_catalog(sessions, ext):
    async with httpx.AsyncClient() as client:
        return {r.source: r for r in await sync_catalog(sessions, ext, client)}


async def table(sessions, model):
    async with sessions() as s:
        key = "name" if model is CatalogSource else "id"
        return {getattr(r, key): r for r in (await s.scalars(select(model))).all()}


async def test_global_models_are_upserted_and_a_second_run_changes_nothing(sessions):
    catalog = FakeCatalog()
    ext = await setup(sessions, catalog, nv=("nvidia", [NV]))
    first = await run_catalog(sessions, ext)
    assert (first["catalog:fake"].added, first["catalog:fake"].updated) == (2, 0)
    stored = (await table(sessions, GlobalModel))["gpt-oss-120b"]
    assert (stored.name, stored.family, stored.context_window, stored.max_output) == ("GPT OSS 120B", "gpt-oss", 131072, 32768)
    assert (stored.input_price, stored.output_price, stored.capabilities, stored.source) == (0.1, 0.5, {"reasoning": True}, "fake")

    second = await run_catalog(sessions, ext)
    assert catalog.states[-1].etag == '"v1"'
    assert not any(r.changed for r in second.values()) and "not modified" in second["catalog:fake"].notes[0]

    catalog.etag = '"v2"'  # the source changed its ETag but not its content: compared, unchanged
    third = await run_catalog(sessions, ext)
    assert third["catalog:fake"].unchanged == 2 and not any(r.changed for r in third.values())
    assert (await table(sessions, CatalogSource))["fake"].etag == '"v2"'


async def test_the_same_model_is_priced_by_each_providers_own_catalog_entry(sessions):
    ext = await setup(sessions, FakeCatalog(), nv=("nvidia", [NV]), tg=("togetherai", [TG]), syn=("synthetic", [SYN]))
    reports = await run_catalog(sessions, ext)
    rows = await table(sessions, ProviderModel)
    nv, tg, syn = rows["gpt-oss-120b-nv"], rows["gpt-oss-120b-tg"], rows["deepseek-r1-0528-syn"]
    assert (nv.input_price, nv.output_price, nv.context_window) == (0.0, 0.0, 128000)
    assert (tg.input_price, tg.output_price, tg.max_output) == (0.15, 0.6, 32000)
    assert nv.global_model_id == tg.global_model_id == "gpt-oss-120b"  # linked by normalized upstream id
    assert (syn.input_price, syn.output_price) == (3.0, 9.0)  # the plugin's explicit price wins
    assert reports["prices:fake"].updated == 3
    assert not any(r.changed for r in (await run_catalog(sessions, ext)).values())
    await sync_providers(sessions, ext)  # writes the plugins' global_id (None) again
    relinked = await run_catalog(sessions, ext)  # 304: links again without a fetch
    assert "not modified" in relinked["catalog:fake"].notes[0]
    assert (await table(sessions, ProviderModel))["gpt-oss-120b-tg"].global_model_id == "gpt-oss-120b"
    assert (await table(sessions, ProviderModel))["gpt-oss-120b-tg"].input_price == 0.15


async def test_lookup_by_normalized_id_and_no_entry_leaves_the_global_fallback(sessions):
    fp8 = ModelSpec(id="gpt-fp8-tg", upstream_id="OpenAI/GPT-OSS-120B-FP8")
    lost = ModelSpec(id="other-x", upstream_id="org/unknown-model")
    ext = await setup(sessions, FakeCatalog(), tg=("togetherai", [fp8]), x=(None, [lost]))
    reports = await run_catalog(sessions, ext)
    rows = await table(sessions, ProviderModel)
    assert (rows["gpt-fp8-tg"].input_price, rows["gpt-fp8-tg"].global_model_id) == (0.15, "gpt-oss-120b")
    assert rows["other-x"].input_price is None and rows["other-x"].global_model_id is None
    assert reports["prices:fake"].skipped == 1


async def test_a_provider_without_its_entry_is_not_priced_from_another_provider(sessions):
    only_nv = [p for p in PRICES if p.catalog_provider == "nvidia"]
    ext = await setup(sessions, FakeCatalog(prices=only_nv), tg=("togetherai", [TG]))
    await run_catalog(sessions, ext)
    row = (await table(sessions, ProviderModel))["gpt-oss-120b-tg"]
    assert row.input_price is None and row.global_model_id == "gpt-oss-120b"  # falls back to the global price


async def test_models_added_after_a_fetch_force_a_full_fetch(sessions):
    catalog = FakeCatalog()
    await run_catalog(sessions, await setup(sessions, catalog, nv=("nvidia", [NV])))
    ext = await setup(sessions, catalog, nv=("nvidia", [NV]), tg=("togetherai", [TG]))
    await run_catalog(sessions, ext)
    assert catalog.states[-1] is None
    assert (await table(sessions, ProviderModel))["gpt-oss-120b-tg"].input_price == 0.15


async def test_the_snapshot_is_applied_said_so_and_the_etag_dropped(sessions):
    catalog = FakeCatalog()
    ext = await setup(sessions, catalog, nv=("nvidia", [NV]))
    await run_catalog(sessions, ext)
    catalog.snapshot = "2026-07-02"
    reports = await run_catalog(sessions, ext)
    assert "bundled snapshot of 2026-07-02" in reports["catalog:fake"].notes[0]
    assert (await table(sessions, CatalogSource))["fake"].etag is None
    catalog.snapshot = None
    await run_catalog(sessions, ext)
    assert catalog.states[-1].etag is None  # the next fetch is a full one


async def test_a_catalog_that_raises_is_an_error_in_the_report(sessions):
    catalog = FakeCatalog()
    catalog.fail = True
    reports = await run_catalog(sessions, await setup(sessions, catalog))
    assert "boom" in reports["catalog:fake"].errors[0]
    assert await table(sessions, GlobalModel) == {}


async def test_rows_of_another_catalog_are_left_to_it(sessions):
    catalog = FakeCatalog(models=[GPT])
    ext = await setup(sessions, catalog)
    async with sessions.begin() as s:
        s.add(GlobalModel(id="gpt-oss-120b", name="Theirs", source="other"))
    report = (await run_catalog(sessions, ext))["catalog:fake"]
    assert (report.added, report.updated) == (0, 0)
    assert (await table(sessions, GlobalModel))["gpt-oss-120b"].name == "Theirs"


# --- end to end: the CLI, the installed plugins, models.dev served over HTTP -------


@pytest.fixture
def served_catalog(tmp_path):
    """The 2026-06-23 models.dev fixture on a local HTTP server (Last-Modified, 304)."""
    (tmp_path / "api.json").write_bytes(FIXTURE_0623.read_bytes())

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api.json"
    server.shutdown()
    server.server_close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_sync_catalog_from_models_dev_over_http(database_url, served_catalog):
    env = {"SYNAXIS_DATABASE_URL": database_url, "SYNAXIS_MODELSDEV_URL": served_catalog, "SYNAXIS_LOAD_PLUGINS": None}

    def sync(*args):
        result = CliRunner().invoke(cli, ["sync", *args, "--json"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return {r["source"]: r for r in json.loads(result.output)}

    CliRunner().invoke(cli, ["db", "upgrade"], env=env, catch_exceptions=False)
    sync("providers")
    first = sync("catalog")
    assert first["catalog:modelsdev"]["added"] > 100 and not first["catalog:modelsdev"]["errors"]
    models = json.loads(CliRunner().invoke(cli, ["models", "--json"], env=env).output)
    r1 = next(m for m in models if m["id"] == "deepseek-r1-0528-syn")
    assert (r1["input_price"], r1["output_price"], r1["global_model_id"]) == (3.0, 8.0, "deepseek-r1-0528")

    second = sync("catalog")
    assert not any(r["added"] or r["updated"] or r["deactivated"] for r in second.values())

    env["SYNAXIS_MODELSDEV_URL"] = "http://127.0.0.1:9/api.json"  # nothing listens on port 9
    offline = sync("catalog")
    assert any("bundled snapshot" in note for note in offline["catalog:modelsdev"]["notes"])
