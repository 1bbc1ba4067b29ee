"""The JSON-lines observer: every finished request one line, rotated by size, bodies only when allowed.

End to end through a gateway (``gateway_harness`` + ``FakeUpstream``), waiting on the
file's own lines (``wait_until``), never on time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest
import synaxis_jsonl
from synaxis_jsonl import JsonLinesObserver

from synaxis_core.errors import ConfigError
from synaxis_core.fake import FakeUpstream
from synaxis_core.ledger.writer import UsageEntry
from synaxis_core.runtime.observers import ObservedRequest
from synaxis_core.settings import Settings
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.plugin_manager import make_extensions
from synaxis_core.testing.waiting import wait_until

MODEL = "gpt-oss-120b"


def _text(path):
    """The file's text, or "" while a rotation has moved it aside (the writer is a thread)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def lines(path: Path) -> list[dict]:
    complete = _text(path).split("\n")[:-1]  # a line the writer thread is still writing is left out
    return [json.loads(line) for line in complete]


def harness(fake: FakeUpstream, tmp_path: Path, **environ: str):
    return gateway_harness(
        fake, database_url=f"sqlite+aiosqlite:///{tmp_path / 'synaxis.db'}", providers=("nvidia",),
        environ={"SYNAXIS_JSONL_PATH": str(tmp_path / "log" / "requests.jsonl"),
                 "SYNAXIS_OBSERVE_FLUSH_INTERVAL_S": "0.01", **environ},
    )


async def chat(h, **extra) -> str:
    response = await h.client.post(
        "/v1/chat/completions", headers=h.auth(),
        json={"model": MODEL, "messages": [{"role": "user", "content": "Who wins the derby?"}], **extra},
    )
    assert response.status_code == 200, response.text
    return response.headers["x-request-id"]


@pytest.fixture
def fake():
    with FakeUpstream() as upstream:
        yield upstream


def test_off_unless_the_path_is_set(tmp_path):
    assert make_extensions(synaxis_jsonl).observers == {}
    settings = Settings.from_env({"SYNAXIS_JSONL_PATH": str(tmp_path / "r.jsonl"), "SYNAXIS_JSONL_BACKUPS": "2"})
    observer = make_extensions(synaxis_jsonl, settings=settings).observers["jsonl"]
    assert isinstance(observer, JsonLinesObserver) and observer.backups == 2
    assert observer.max_bytes == 100 * 1024 * 1024


@pytest.mark.parametrize(("variable", "value"), [("SYNAXIS_JSONL_MAX_BYTES", "lots"), ("SYNAXIS_JSONL_BACKUPS", "-1")])
def test_a_bad_size_stops_startup_naming_the_variable(tmp_path, variable, value):
    settings = Settings.from_env({"SYNAXIS_JSONL_PATH": str(tmp_path / "r.jsonl"), variable: value})
    with pytest.raises(ConfigError, match=variable):
        make_extensions(synaxis_jsonl, settings=settings)


async def test_each_request_is_one_line_with_its_ledger_row(fake, tmp_path):
    path = tmp_path / "log" / "requests.jsonl"
    async with harness(fake, tmp_path) as h:
        ids = [await chat(h), await chat(h, stream=True)]
        written = await wait_until(lambda: len(lines(path)) == 2 and lines(path), what="two lines")
    assert [line["usage"]["request_id"] for line in written] == ids
    first = written[0]
    assert (first["tenant"], first["provider"], first["usage"]["status"]) == ("test", "nvidia", "ok")
    assert first["usage"]["provider_model_id"] == "gpt-oss-120b-nvidia" and first["usage"]["completion_tokens"] > 0
    assert written[1]["usage"]["stream"] is True
    assert all(line["request"] is None and line["response"] is None for line in written), "no bodies unless allowed"
    decoded = msgspec.json.decode(path.read_text().splitlines()[0], type=ObservedRequest)
    assert decoded.usage.request_id == ids[0], "a line reads back as an ObservedRequest"


async def test_bodies_are_written_only_when_allowed(fake, tmp_path):
    path = tmp_path / "log" / "requests.jsonl"
    async with harness(fake, tmp_path, SYNAXIS_OBSERVE_BODIES="true") as h:
        await chat(h)
        await chat(h, stream=True)
        written = await wait_until(lambda: len(lines(path)) == 2 and lines(path), what="two lines")
    for line in written:
        assert line["request"]["messages"] == [{"role": "user", "content": "Who wins the derby?"}]
        assert line["response"]["choices"][0]["message"]["content"]
    assert written[1]["request"]["stream"] is True


async def test_the_file_rotates_by_size_keeping_n_files(fake, tmp_path):
    path = tmp_path / "log" / "requests.jsonl"
    environ = {"SYNAXIS_JSONL_MAX_BYTES": "1200", "SYNAXIS_JSONL_BACKUPS": "2", "SYNAXIS_OBSERVE_BATCH_SIZE": "1"}
    async with harness(fake, tmp_path, **environ) as h:
        ids = [await chat(h) for _ in range(9)]
        await wait_until(lambda: ids[-1] in _text(path), what="the last line")
    files = [path, path.with_name("requests.jsonl.1"), path.with_name("requests.jsonl.2")]
    assert all(f.exists() for f in files) and not path.with_name("requests.jsonl.3").exists()
    assert all(f.stat().st_size <= 1200 for f in files)
    kept = [line["usage"]["request_id"] for f in reversed(files) for line in lines(f)]
    assert kept == ids[-len(kept):] and len(kept) < len(ids), "the newest lines, in order; the oldest deleted"


async def test_rotation_without_backups_starts_the_file_again(tmp_path):
    path = tmp_path / "r.jsonl"
    observer = JsonLinesObserver(path, max_bytes=400, backups=0)
    records = [ObservedRequest(usage=UsageEntry(request_id=f"r{i}"), tenant="t") for i in range(6)]
    for record in records:
        await observer.observe([record])
    await observer.aclose()
    assert os.listdir(tmp_path) == ["r.jsonl"]
    assert 0 < len(lines(path)) < 6 and lines(path)[-1]["usage"]["request_id"] == "r5"


async def test_pid_in_the_path_gives_each_process_its_file(tmp_path):
    observer = JsonLinesObserver(tmp_path / "requests-{pid}.jsonl")
    await observer.observe([ObservedRequest(usage=UsageEntry(request_id="r1"), tenant="t")])
    await observer.aclose()
    assert (tmp_path / f"requests-{os.getpid()}.jsonl").exists()
