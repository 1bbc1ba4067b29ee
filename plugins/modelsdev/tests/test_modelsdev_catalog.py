"""``ModelsDevCatalog.fetch`` against a real HTTP server on 127.0.0.1, files, and the snapshot."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pluggy
import pytest

from synaxis_core import hookspecs
from synaxis_core.catalog.base import Catalog
from synaxis_core.settings import Settings
from synaxis_core.types import CatalogState
from synaxis_modelsdev import ModelsDevCatalog, snapshot_date
from synaxis_modelsdev.catalog import local_path, snapshot_bytes

FIXTURES = Path(__file__).parents[3] / "tests" / "fixtures"
NEW = FIXTURES / "modelsdev_api_subset.json"
OLD = FIXTURES / "modelsdev_api_subset_2026-06-23.json"
LAST_MODIFIED = "Thu, 02 Jul 2026 00:00:00 GMT"
SNAPSHOT_DATE = "2026-07-02"
SYNTHETIC_14 = [
    "hf:deepseek-ai/DeepSeek-R1-0528", "hf:moonshotai/Kimi-K2-Thinking", "hf:Qwen/Qwen3-235B-A22B-Thinking-2507",
    "hf:deepseek-ai/DeepSeek-V3-0324", "hf:deepseek-ai/DeepSeek-V3.1-Terminus", "hf:deepseek-ai/DeepSeek-V3.2",
    "hf:MiniMaxAI/MiniMax-M2", "hf:MiniMaxAI/MiniMax-M2.1", "hf:moonshotai/Kimi-K2.5", "hf:zai-org/GLM-4.6",
    "hf:zai-org/GLM-4.7", "hf:Qwen/Qwen3-Coder-480B-A35B-Instruct", "hf:openai/gpt-oss-120b",
    "hf:Qwen/Qwen3-235B-A22B-Instruct-2507",
]


@dataclass
class Upstream:
    """What the local server answers, and what it was asked."""

    body: bytes = field(default_factory=NEW.read_bytes)
    status: int = 200
    etag: str = '"v1"'
    delay_s: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    state = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            state.requests.append({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
            if state.delay_s:
                time.sleep(state.delay_s)
            if self.path == "/moved":
                self.send_response(301)
                self.send_header("Location", "/api.json")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.status == 200 and (
                self.headers.get("If-None-Match") == state.etag
                or self.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                self.send_response(304)
                self.send_header("ETag", state.etag)
                self.end_headers()
                return
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.send_header("ETag", state.etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            try:
                self.wfile.write(state.body)
            except OSError:  # the client gave up (the timeout test)
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def catalog_for(url: str) -> ModelsDevCatalog:
    return ModelsDevCatalog(Settings.from_env({}, modelsdev_url=url))


async def fetch(url: str, state: CatalogState | None = None, timeout: float = 5.0):
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await catalog_for(url).fetch(client, state)


def provider_counts(data) -> Counter:
    return Counter(p.catalog_provider for p in data.prices)


async def test_first_fetch_parses_and_keeps_the_validators(upstream: Upstream) -> None:
    data = await fetch(upstream.url)
    assert provider_counts(data) == {"synthetic": 10, "togetherai": 32, "nvidia": 84}
    assert (data.etag, data.last_modified) == ('"v1"', LAST_MODIFIED)
    assert not data.not_modified and data.from_snapshot is None and data.source == "modelsdev"
    assert "if-none-match" not in upstream.requests[0] and "if-modified-since" not in upstream.requests[0]


async def test_etag_gives_304_not_modified(upstream: Upstream) -> None:
    first = await fetch(upstream.url)
    data = await fetch(upstream.url, CatalogState(etag=first.etag, last_modified=first.last_modified))
    assert data.not_modified and data.models == [] and data.prices == []
    assert data.etag == '"v1"' and data.from_snapshot is None
    assert upstream.requests[-1]["if-none-match"] == '"v1"'
    assert upstream.requests[-1]["if-modified-since"] == LAST_MODIFIED


async def test_if_modified_since_alone_gives_304(upstream: Upstream) -> None:
    data = await fetch(upstream.url, CatalogState(last_modified=LAST_MODIFIED))
    assert data.not_modified
    assert "if-none-match" not in upstream.requests[-1]


async def test_a_changed_catalog_is_fetched_again(upstream: Upstream) -> None:
    upstream.body, upstream.etag = OLD.read_bytes(), '"v2"'
    data = await fetch(upstream.url, CatalogState(etag='"v1"'))
    assert not data.not_modified and data.etag == '"v2"'
    assert provider_counts(data)["synthetic"] == 34


async def test_redirects_are_followed(upstream: Upstream) -> None:
    data = await fetch(upstream.url.replace("/api.json", "/moved"))
    assert provider_counts(data)["nvidia"] == 84 and data.from_snapshot is None


def assert_snapshot(data, caplog: pytest.LogCaptureFixture, reason: str) -> None:
    assert data.from_snapshot == SNAPSHOT_DATE
    assert data.etag is None and data.last_modified is None and not data.not_modified
    assert provider_counts(data) == {"synthetic": 36, "togetherai": 32, "nvidia": 84}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("synaxis_modelsdev")]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert reason in message and SNAPSHOT_DATE in message and "snapshot" in message


@pytest.mark.parametrize("status", [500, 404, 429])
async def test_http_error_falls_back_to_the_snapshot(upstream: Upstream, caplog, status: int) -> None:
    upstream.status = status
    assert_snapshot(await fetch(upstream.url), caplog, f"HTTP {status}")


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"<html>oops</html>", "unparseable"), (b"[]", "unparseable"), (b"{}", "no valid model")],
)
async def test_garbage_body_falls_back_to_the_snapshot(upstream: Upstream, caplog, body: bytes, reason: str) -> None:
    upstream.body = body
    assert_snapshot(await fetch(upstream.url), caplog, reason)


async def test_connection_refused_falls_back_to_the_snapshot(caplog) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert_snapshot(await fetch(f"http://127.0.0.1:{port}/api.json"), caplog, "network error")


async def test_timeout_falls_back_to_the_snapshot(upstream: Upstream, caplog) -> None:
    upstream.delay_s = 1.0
    assert_snapshot(await fetch(upstream.url, timeout=0.2), caplog, "timeout")


async def test_file_url_and_plain_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "api.json"
    path.write_bytes(OLD.read_bytes())
    by_url = await fetch(path.as_uri())
    by_path = await fetch(str(path))
    monkeypatch.chdir(tmp_path)
    by_relative = await fetch("api.json")
    for data in (by_url, by_path, by_relative):
        assert provider_counts(data) == {"synthetic": 34, "togetherai": 31, "nvidia": 83}
        assert data.from_snapshot is None and data.etag and data.etag.startswith('"sha256-')
    assert by_url.etag == by_path.etag == by_relative.etag
    unchanged = await fetch(path.as_uri(), CatalogState(etag=by_url.etag))
    assert unchanged.not_modified and unchanged.models == []
    path.write_bytes(NEW.read_bytes())
    changed = await fetch(path.as_uri(), CatalogState(etag=by_url.etag))
    assert not changed.not_modified and changed.etag != by_url.etag


async def test_missing_file_falls_back_to_the_snapshot(tmp_path: Path, caplog) -> None:
    assert_snapshot(await fetch((tmp_path / "nope.json").as_uri()), caplog, "cannot read")


def test_local_path() -> None:
    assert local_path("file:///tmp/api.json") == Path("/tmp/api.json")
    assert local_path("/tmp/api.json") == Path("/tmp/api.json")
    assert local_path("./api.json") == Path("api.json")
    assert local_path("https://models.dev/api.json") is None


def test_snapshot_holds_the_synthetic_models_with_their_prices() -> None:
    assert snapshot_date() == SNAPSHOT_DATE
    snapshot = json.loads(snapshot_bytes())
    assert snapshot["_meta"]["date"] == SNAPSHOT_DATE
    old, new = json.loads(OLD.read_text())["synthetic"]["models"], json.loads(NEW.read_text())["synthetic"]["models"]
    synthetic = snapshot["synthetic"]["models"]
    for upstream_id in SYNTHETIC_14:
        assert synthetic[upstream_id] == new.get(upstream_id, old[upstream_id])
    assert synthetic["hf:deepseek-ai/DeepSeek-R1-0528"]["cost"] == {"input": 3, "output": 8}
    assert synthetic["hf:openai/gpt-oss-120b"] == new["hf:openai/gpt-oss-120b"]  # the newer entry wins


def test_register_catalogs_hook() -> None:
    import synaxis_modelsdev

    pm = pluggy.PluginManager("synaxis")
    pm.add_hookspecs(hookspecs)
    pm.register(synaxis_modelsdev, name="modelsdev")
    registered: list[object] = []
    settings = Settings.from_env({"SYNAXIS_MODELSDEV_URL": "file:///tmp/api.json"})
    pm.hook.register_catalogs(register=registered.append, settings=settings)
    assert len(registered) == 1
    catalog = registered[0]
    assert isinstance(catalog, Catalog) and isinstance(catalog, ModelsDevCatalog)
    assert catalog.name == "modelsdev" and catalog.url == "file:///tmp/api.json"
    assert ModelsDevCatalog().url == "https://models.dev/api.json"
