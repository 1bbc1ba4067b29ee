"""Observers (``register_observers``): every finished request, off the request path.

Through a whole gateway (``gateway_harness`` + ``FakeUpstream``): each request reaches
the observer once, with its ledger row, and with its bodies only when
``SYNAXIS_OBSERVE_BODIES`` allows; an observer that blocks does not delay a response, one
that fails is logged and counted while requests succeed, one that is stuck drops its
oldest records instead of growing; shutdown delivers what is queued. No sleeps: the
tests wait on the observer's own events (``wait_until``).
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from synaxis_core import hookimpl
from synaxis_core.errors import PluginError
from synaxis_core.fake import FakeUpstream
from synaxis_core.runtime.observed import ObservedRequest, assemble
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.plugin_manager import make_extensions
from synaxis_core.testing.waiting import wait_until

MODEL = "gpt-oss-120b"
FAST = {"SYNAXIS_OBSERVE_FLUSH_INTERVAL_S": "0.01"}


class Recorder:
    """An observer that keeps what it gets; ``hold()`` makes it block until ``release()``."""

    def __init__(self, name: str = "recorder", *, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.records: list[ObservedRequest] = []
        self.calls = 0
        self.closed = False
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = asyncio.Event()  # set while a call is blocked in hold()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def observe(self, records: list[ObservedRequest]) -> None:
        self.calls += 1
        if not self._open.is_set():
            self.waiting.set()
            await self._open.wait()
        if self.fail:
            raise RuntimeError("the collector is down")
        self.records.extend(records)

    async def aclose(self) -> None:
        self.closed = True


class Plugin:
    def __init__(self, *observers: object) -> None:
        self.observers = observers

    @hookimpl
    def register_observers(self, register):
        for observer in self.observers:
            register(observer)


def gateway(fake: FakeUpstream, tmp_path, *observers: object, **environ: str):
    return gateway_harness(
        fake, database_url=f"sqlite+aiosqlite:///{tmp_path / 'synaxis.db'}", providers=("nvidia",),
        environ={**FAST, **environ}, plugins=[Plugin(*observers)],
    )


async def chat(h, **extra) -> dict:
    response = await h.client.post(
        "/v1/chat/completions", headers=h.auth(),
        json={"model": MODEL, "messages": [{"role": "user", "content": "Who wins?"}], **extra},
    )
    return {"status": response.status_code, "id": response.headers.get("x-request-id"), "text": response.text}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``text`` (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def fake():
    with FakeUpstream() as upstream:
        yield upstream


# --- the hook ------------------------------------------------------------------------


def test_register_observers_collects_validated_observers():
    ext = make_extensions(Plugin(Recorder("a"), Recorder("b")))
    assert set(ext.observers) == {"a", "b"}

    class Sync:
        name = "sync"

        def observe(self, records):  # not a coroutine function
            pass

    with pytest.raises(PluginError, match="needs an `async def observe"):
        make_extensions(Plugin(Sync()))
    with pytest.raises(PluginError, match="not an Observer"):
        make_extensions(Plugin(object()))
    with pytest.raises(PluginError, match="observer 'a' is registered by two plugins"):
        make_extensions(Plugin(Recorder("a")), Plugin(Recorder("a")))


# --- what an observer gets -------------------------------------------------------------


async def test_every_finished_request_reaches_the_observer_once_with_its_ledger_row(fake, tmp_path):
    recorder = Recorder()
    async with gateway(fake, tmp_path, recorder) as h:
        sent = [await chat(h), await chat(h, stream=True), await chat(h, model="no-such-model")]
        await wait_until(lambda: len(recorder.records) == 3, what="three observed requests")
    assert [s["status"] for s in sent] == [200, 200, 404]
    by_id = {r.usage.request_id: r for r in recorder.records}
    assert set(by_id) == {s["id"] for s in sent}
    ok, streamed, missing = (by_id[s["id"]] for s in sent)
    assert (ok.usage.status, ok.usage.http_status, ok.tenant, ok.provider, ok.dialect) == ("ok", 200, "test", "nvidia", "chat")
    assert ok.usage.provider_model_id == "gpt-oss-120b-nvidia" and ok.usage.completion_tokens > 0
    assert streamed.usage.stream and streamed.usage.status == "ok"
    assert (missing.usage.status, missing.usage.http_status, missing.provider) == ("error", 404, None)
    assert all(r.request is None and r.response is None for r in recorder.records), "bodies are off by default"
    assert recorder.closed, "the observer is closed with the gateway"


async def test_bodies_reach_observers_only_when_allowed(fake, tmp_path):
    recorder = Recorder()
    async with gateway(fake, tmp_path, recorder, SYNAXIS_OBSERVE_BODIES="true") as h:
        whole = await chat(h)
        streamed = await chat(h, stream=True)
        await wait_until(lambda: len(recorder.records) == 2, what="two observed requests")
    by_id = {r.usage.request_id: r for r in recorder.records}
    answer = json.loads(whole["text"])
    record = by_id[whole["id"]]
    assert record.request["messages"] == [{"role": "user", "content": "Who wins?"}]
    assert record.response["choices"][0]["message"]["content"] == answer["choices"][0]["message"]["content"]
    events = [json.loads(line[6:]) for line in streamed["text"].splitlines() if line.startswith("data: {")]
    text = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    record = by_id[streamed["id"]]
    assert record.request["stream"] is True
    assert record.response["object"] == "chat.completion" and record.response["choices"][0]["message"]["content"] == text
    assert record.response["choices"][0]["finish_reason"] == "stop" and record.response["usage"]["total_tokens"] > 0


def test_a_streams_chunks_are_assembled_into_one_completion():
    chunks = [
        {"id": "c1", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Ar"}}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {"content": "senal", "reasoning_content": "thinking"}}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "score", "arguments": '{"a"'}}]}}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                                  "finish_reason": "tool_calls"}]},
        {"id": "c1", "choices": [], "usage": {"total_tokens": 9}},
    ]
    whole = assemble(chunks)
    message = whole["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("Arsenal", "thinking")
    assert message["tool_calls"] == [{"type": "function", "id": "call_1", "function": {"name": "score", "arguments": '{"a": 1}'}}]
    assert whole["choices"][0]["finish_reason"] == "tool_calls" and whole["usage"] == {"total_tokens": 9}
    assert assemble([]) is None


# --- an observer never delays or fails a request -------------------------------------------


async def test_a_slow_observer_does_not_delay_responses(fake, tmp_path):
    slow = Recorder("slow")
    slow.hold()
    async with gateway(fake, tmp_path, slow, SYNAXIS_OBSERVE_BATCH_SIZE="1") as h:
        first = await chat(h)
        await wait_until(slow.waiting.is_set, what="the observer blocked on the first record")
        later = [await chat(h) for _ in range(5)]
        assert [r["status"] for r in [first, *later]] == [200] * 6
        assert slow.records == [] and slow.calls == 1, "every answer came while the observer was still blocked"
        slow.release()
        await wait_until(lambda: len(slow.records) == 6, what="the six records once released")


async def test_a_failing_observer_is_logged_and_counted_while_requests_succeed(fake, tmp_path, caplog):
    broken, healthy = Recorder("broken", fail=True), Recorder("healthy")
    with caplog.at_level(logging.WARNING, logger="synaxis.observers"):
        async with gateway(fake, tmp_path, broken, healthy, SYNAXIS_OBSERVE_BATCH_SIZE="1") as h:
            sent = [await chat(h) for _ in range(3)]
            await wait_until(lambda: broken.calls == 3 and len(healthy.records) == 3, what="three calls to each")
            text = (await h.client.get("/metrics")).text
    assert [s["status"] for s in sent] == [200] * 3
    assert metric(text, "synaxis_observer_failures_total", observer="broken", reason="error") == 3
    assert metric(text, "synaxis_observer_records_total", observer="broken", outcome="failed") == 3
    assert metric(text, "synaxis_observer_records_total", observer="healthy", outcome="delivered") == 3
    failures = [r for r in caplog.records if "observer 'broken' failed" in r.getMessage()]
    assert len(failures) == 3 and "the collector is down" in failures[0].getMessage()
    assert failures[0].exc_info and not failures[1].exc_info, "one traceback per run of failures"


async def test_a_call_past_the_timeout_is_cancelled_and_counted(fake, tmp_path):
    stuck = Recorder("stuck")
    stuck.hold()
    async with gateway(fake, tmp_path, stuck, SYNAXIS_OBSERVE_TIMEOUT_S="0.05") as h:
        assert (await chat(h))["status"] == 200
        await wait_until(
            lambda: h.gateway.observers.lane("stuck").failed == 1, what="the call given up after its timeout"
        )
        text = (await h.client.get("/metrics")).text
        stuck.release()
    assert metric(text, "synaxis_observer_failures_total", observer="stuck", reason="timeout") == 1


async def test_a_stuck_observer_drops_its_oldest_records_and_memory_stays_bounded(fake, tmp_path, caplog):
    stuck = Recorder("stuck")
    stuck.hold()
    environ = {"SYNAXIS_OBSERVE_BATCH_SIZE": "1", "SYNAXIS_OBSERVE_QUEUE_MAX": "3"}
    with caplog.at_level(logging.WARNING, logger="synaxis.observers"):
        async with gateway(fake, tmp_path, stuck, **environ) as h:
            first = await chat(h)
            await wait_until(stuck.waiting.is_set, what="the observer stuck on the first record")
            later = [await chat(h) for _ in range(8)]
            lane = h.gateway.observers.lane("stuck")
            assert len(lane.queue) == 3 and lane.dropped == 5, "the queue holds at most SYNAXIS_OBSERVE_QUEUE_MAX"
            text = (await h.client.get("/metrics")).text
            stuck.release()
            await wait_until(lambda: len(stuck.records) == 4, what="the first record and the newest three")
    assert all(r["status"] == 200 for r in [first, *later])
    assert [r.usage.request_id for r in stuck.records] == [first["id"]] + [r["id"] for r in later[-3:]]
    assert metric(text, "synaxis_observer_records_total", observer="stuck", outcome="dropped") == 5
    behind = [r for r in caplog.records if "observer 'stuck' is" in r.getMessage() and "behind" in r.getMessage()]
    assert len(behind) == 1, "one warning per run of drops, not one per record"


async def test_shutdown_delivers_what_is_queued(fake, tmp_path):
    recorder = Recorder()
    environ = {"SYNAXIS_OBSERVE_FLUSH_INTERVAL_S": "3600"}  # nothing goes before the gateway closes
    async with gateway(fake, tmp_path, recorder, **environ) as h:
        sent = [await chat(h) for _ in range(2)]
        assert recorder.calls == 0
    assert [r.usage.request_id for r in recorder.records] == [s["id"] for s in sent]
    assert recorder.closed


async def test_no_observer_no_dispatcher(fake, tmp_path):
    async with gateway(fake, tmp_path) as h:
        assert h.gateway.observers is None and h.gateway.accounting.observers is None
        assert not h.gateway.accounting.keep_bodies
        assert (await chat(h))["status"] == 200
