"""Fault injection against the fake upstream: every failure an upstream can produce.

For each fault, streamed and not, with a healthy second candidate (the global id
``gpt-oss-120b``: NVIDIA first because it is free, then Synthetic) and pinned to the
failing deployment (``gpt-oss-120b-nvidia``), the client gets

- a correct answer whenever a healthy candidate exists (streamed: the reassembled
  content, ending with ``[DONE]``), or a correct OpenAI-shaped error with the right
  status (429 when every attempt was rate limited, 502 otherwise);
- for a stream that fails after its first byte (cut, no ``[DONE]``, invalid JSON or an
  error event mid-answer): an SSE ``data: {"error": ...}`` event and never ``[DONE]``,
  which the official ``openai`` SDK raises;

and after each scenario there is no unhandled exception in the logs, no upstream
connection left checked out of the provider's pool, and exactly one ledger row per
request with the expected status.
"""

from __future__ import annotations

import gc
import json
import logging
from dataclasses import dataclass

import httpx
import openai
import pytest
from sqlalchemy import select
from tenacity import wait_none

from synaxis_core.db.models import ProviderModel, UsageRecord
from synaxis_core.ledger.cost import tokens_for_chars
from synaxis_core.sync.discover import discover_models
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.fake.behavior import DEFAULT_ANSWER
from synaxis_core.testing.gateway import GatewayHarness, gateway_harness
from synaxis_core.testing.live_server import live_server
from synaxis_core.testing.waiting import wait_until

MESSAGES = [{"role": "user", "content": "Predict the score."}]
ROUTED = "gpt-oss-120b"  # NVIDIA (free, tried first), then Synthetic
PINNED = "gpt-oss-120b-nvidia"
HEALTHY = "gpt-oss-120b-syn"
FAILING_UPSTREAM = "openai/gpt-oss-120b"  # NVIDIA's upstream id
TIMEOUT_S = 0.3
"""The failing provider's per-attempt timeout in the stall scenarios (others: 5 s, so
that a loaded machine does not turn a slow answer into a timeout)."""

# How a fault shows itself: "before" the first byte (failover possible), "mid" stream
# (after the first chunk went out: an error event), or "none" (the kind does not apply).
BEFORE, MID, NONE = "before", "mid", "none"


@dataclass(frozen=True)
class Fault:
    name: str
    behavior: Behavior
    non_stream: str = BEFORE
    stream: str = BEFORE
    pinned_status: int = 502
    pinned_code: str = "all_candidates_failed"


FAULTS = [
    Fault("http_500", Behavior(kind="error", status=500)),
    Fault("http_503_retried", Behavior(kind="error", status=503)),
    Fault("rate_limit_retry_after", Behavior(kind="rate_limit", retry_after="7"),
          pinned_status=429, pinned_code="rate_limit_exceeded"),
    Fault("rate_limit_bare", Behavior(kind="rate_limit"), pinned_status=429, pinned_code="rate_limit_exceeded"),
    Fault("stall", Behavior(kind="stall", delay_s=30)),
    Fault("stall_mid_stream", Behavior(kind="ok", chunk_delay_s=30), non_stream=NONE, stream=MID),
    Fault("connection_reset", Behavior(kind="reset")),
    Fault("invalid_json", Behavior(kind="invalid_json"), stream=MID),
    Fault("cut", Behavior(kind="cut"), stream=MID),
    Fault("no_done", Behavior(kind="no_done"), non_stream=NONE, stream=MID),
    Fault("stream_error", Behavior(kind="stream_error"), stream=MID),
    Fault("model_not_available", Behavior(kind="model_not_available")),
]

# Errors the gateway is allowed to log at ERROR level during a fault: none.
ALLOWED_ERROR_LOGGERS: frozenset[str] = frozenset()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fake():
    """One fake upstream for the module (reset before each test); at the end, a garbage
    collection must not find an unclosed client session or connection (aiohttp and
    asyncio report those on the ``asyncio`` logger when they are collected)."""
    collect = _Collect()
    logging.getLogger("asyncio").addHandler(collect)
    try:
        with FakeUpstream() as upstream:
            yield upstream
        gc.collect()
    finally:
        logging.getLogger("asyncio").removeHandler(collect)
    assert not collect.records, [r.getMessage() for r in collect.records]


@pytest.fixture
async def h(fake, sqlite_url):
    fake.reset()
    OPEN_BEFORE[fake] = fake.open_transports()  # an earlier test's, maybe still closing: not this test's
    async with gateway_harness(
        fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), timeout_s=5.0,
        ledger_flush_interval_s=0.01,
    ) as harness:
        for provider in harness.gateway.ext.providers.values():
            provider.retry_wait = wait_none()  # keep the quick retries, without their sleep
        yield harness
    for provider in harness.gateway.ext.providers.values():
        assert provider.exchange._client is None  # closed with the gateway


# --- observing the gateway -----------------------------------------------------------


OPEN_BEFORE: dict[FakeUpstream, frozenset[object]] = {}
"""The fake's connections open when each test's gateway was started (``h``)."""


async def assert_no_leak(h: GatewayHarness) -> None:
    """Every provider's client holds at most one connection open to the fake upstream
    (requests here are sequential): a response left unreleased would keep its connection
    out of the pool and make the next request open another; broken ones were closed.
    The fake sees a close a moment after the client makes it: wait until it has (a leak
    never closes, and fails after the wait's safety cap). Only this test's connections
    count: an earlier test's may still be closing when this one starts."""
    before = OPEN_BEFORE.get(h.fake, frozenset())

    def at_most_one_each() -> bool:
        return all(n <= 1 for n in h.fake.open_connections(ignore=before).values())

    try:
        await wait_until(at_most_one_each, what="at most one connection open per provider")
    except AssertionError as exc:
        found = dict(h.fake.open_connections(ignore=before))
        raise AssertionError(f"{exc}; connections open per provider: {found}") from None


async def ledger_rows(h: GatewayHarness) -> list[UsageRecord]:
    await h.gateway.ledger.flush()
    async with h.gateway.sessions() as session:
        return list((await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all())


def assert_clean_logs(caplog: pytest.LogCaptureFixture) -> None:
    bad = [
        r for r in caplog.records
        if (r.levelno >= logging.ERROR or r.exc_info) and r.name not in ALLOWED_ERROR_LOGGERS
    ]
    assert not bad, "unexpected error logs: " + "; ".join(f"{r.name}: {r.getMessage()}" for r in bad)


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["code"] == code, error
    return error


def sse_events(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order (comments skipped)."""
    return [line[len("data: "):] for line in text.split("\n") if line.startswith("data: ")]


def content_of(events: list[str]) -> str:
    parts = []
    for data in events:
        if data == "[DONE]":
            continue
        for choice in json.loads(data).get("choices") or ():
            parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


async def post(h: GatewayHarness, model: str, stream: bool) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, "stream": stream}
    return await h.client.post("/v1/chat/completions", headers=h.auth(), json=body)


def expected_outcome(fault: Fault, stream: bool, pinned: bool) -> str:
    when = fault.stream if stream else fault.non_stream
    if when == NONE:
        return "ok_primary"
    if when == MID:
        return "stream_error_event"
    return "error" if pinned else "ok_failover"


# --- the matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("pinned", [False, True], ids=["failover", "pinned"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_fault(h, fake, caplog, fault: Fault, stream: bool, pinned: bool):
    caplog.set_level(logging.WARNING)
    fake.set(FAILING_UPSTREAM, fault.behavior)
    if fault.name.startswith("stall"):
        h.gateway.ext.providers["nvidia"].timeout_s = TIMEOUT_S
    outcome = expected_outcome(fault, stream, pinned)
    response = await post(h, PINNED if pinned else ROUTED, stream)
    sent = 1

    if outcome in ("ok_failover", "ok_primary"):
        assert response.status_code == 200, response.text
        served = HEALTHY if outcome == "ok_failover" else PINNED
        assert response.headers["x-synaxis-model"] == served
        if outcome == "ok_failover":
            assert int(response.headers["x-synaxis-attempts"]) == 2
        if stream:
            events = sse_events(response.text)
            assert events[-1] == "[DONE]" and content_of(events) == DEFAULT_ANSWER
            assert not any('"error"' in e for e in events)
        else:
            assert response.json()["choices"][0]["message"]["content"] == DEFAULT_ANSWER
        statuses = ["ok"]
    elif outcome == "error":
        assert_openai_error(response, fault.pinned_status, fault.pinned_code)
        assert PINNED in response.json()["error"]["message"]
        statuses = ["error"]
    else:  # the stream started, then failed: an error event, never a clean end
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream"), response.text
        events = sse_events(response.text)
        assert "[DONE]" not in events
        error = json.loads(events[-1])["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["type"] == "upstream_error"
        assert all("error" not in json.loads(e) for e in events[:-1])
        # the official SDK raises on it, instead of returning a truncated answer
        client = h.openai()
        received = []
        with pytest.raises(openai.APIError) as raised:
            stream_ = await client.chat.completions.create(model=PINNED if pinned else ROUTED,
                                                            messages=MESSAGES, stream=True)
            async for chunk in stream_:
                received.append(chunk)
        assert not isinstance(raised.value, openai.APIStatusError)  # raised mid-stream, after a 200
        assert received, "the stream had started before it failed"
        sent += 1
        statuses = ["error", "error"]

    rows = await ledger_rows(h)
    assert len(rows) == sent, [(r.status, r.http_status) for r in rows]
    assert [r.status for r in rows] == statuses
    assert all(r.stream is stream and r.tenant_id is not None for r in rows)
    if outcome == "stream_error_event":
        assert {r.http_status for r in rows} == {502}
    await assert_no_leak(h)
    assert_clean_logs(caplog)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_a_cut_stream_through_the_sdk_never_looks_complete(h, fake, caplog, stream: bool):
    """The SDK path of a mid-answer cut, read chunk by chunk: content arrives, then it raises."""
    caplog.set_level(logging.WARNING)
    fake.set(FAILING_UPSTREAM, Behavior(kind="cut", content="one two three four five six seven eight"))
    client = h.openai()
    if not stream:  # not streamed: the cut body is a failed attempt, and Synthetic answers
        reply = await client.chat.completions.create(model=ROUTED, messages=MESSAGES)
        assert reply.model == HEALTHY and reply.choices[0].message.content == DEFAULT_ANSWER
    else:
        text = ""
        with pytest.raises(openai.APIError, match="stream failed after it started"):
            async for chunk in await client.chat.completions.create(model=ROUTED, messages=MESSAGES, stream=True):
                text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        assert text and "one two three four five six seven eight".startswith(text) and len(text) < 39
    rows = await ledger_rows(h)
    assert [r.status for r in rows] == ["error" if stream else "ok"]
    await assert_no_leak(h)
    assert_clean_logs(caplog)


async def test_every_candidate_failing_differently_is_one_502_listing_each(h, fake, caplog):
    caplog.set_level(logging.WARNING)
    fake.set(FAILING_UPSTREAM, Behavior(kind="reset"))
    fake.set("hf:openai/gpt-oss-120b", Behavior(kind="model_not_available"))
    for stream in (False, True):
        response = await post(h, ROUTED, stream)
        error = assert_openai_error(response, 502, "all_candidates_failed")
        assert "gpt-oss-120b-nvidia (nvidia)" in error["message"] and "gpt-oss-120b-syn (synthetic)" in error["message"]
    rows = await ledger_rows(h)
    assert [(r.status, r.http_status) for r in rows] == [("error", 502), ("error", 502)]
    assert all(r.attempts == 2 for r in rows)
    await assert_no_leak(h)
    assert_clean_logs(caplog)


async def test_faults_in_a_row_disable_the_primary_and_the_pool_stays_bounded(h, fake, caplog):
    """Faults before the first byte on the primary: every request answered, the primary disabled
    after three consecutive failures, no connection leaked, a ledger row for each."""
    caplog.set_level(logging.WARNING)
    faults = [Behavior(kind="reset"), Behavior(kind="error", status=500), Behavior(kind="model_not_available")]
    fake.set(FAILING_UPSTREAM, faults)
    for i in range(12):
        response = await post(h, ROUTED, stream=bool(i % 2))
        assert response.status_code == 200, response.text
    # reset, its quick retry (a connection error) meets the 500, then 404 twice: disabled
    assert fake.calls[FAILING_UPSTREAM] == 4
    assert not h.gateway.router.table.by_id[PINNED].active
    rows = await ledger_rows(h)
    assert len(rows) == 12 and {r.status for r in rows} == {"ok"}
    await assert_no_leak(h)
    assert_clean_logs(caplog)


async def test_a_bad_streak_does_not_disable_a_busy_deployment_that_mostly_works(h, fake):
    """At 10% failures a run of three happens every ~1,000 calls: with enough recent
    traffic (20 attempts in the last minute) a deployment is disabled only when most of
    its last 40 attempts failed as well. A dead one still goes."""
    ok, error = Behavior(kind="ok"), Behavior(kind="error", status=500)
    fake.set(FAILING_UPSTREAM, [ok] * 25 + [error] * 3 + [ok] * 5 + [error])  # then dead for good
    for _ in range(33):
        assert (await post(h, ROUTED, stream=False)).status_code == 200
    assert h.gateway.router.table.by_id[PINNED].active  # the streak of three was forgiven
    sent = 33
    while h.gateway.router.table.by_id[PINNED].active:
        assert (await post(h, ROUTED, stream=False)).status_code == 200  # Synthetic answers meanwhile
        sent += 1
        assert sent < 80
    # disabled once more than half of its last 40 attempts had failed
    # (30 ok and 3 failed, then 18 more failures: 21 of the last 40)
    assert fake.calls[FAILING_UPSTREAM] == sent == 33 + 18


# --- discovery ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["garbage", "invalid_json", "error"])
async def test_a_broken_models_listing_changes_nothing_and_is_reported(h, fake, caplog, mode: str):
    caplog.set_level(logging.WARNING)
    fake.add_model("synthetic", "hf:openai/gpt-oss-120b")
    await discover_models(h.gateway.sessions, h.gateway.ext, providers=["synthetic"])  # a good round first

    async def snapshot():
        async with h.gateway.sessions() as session:
            rows = await session.execute(
                select(ProviderModel.id, ProviderModel.is_available, ProviderModel.last_seen_at)
                .where(ProviderModel.provider == "synthetic").order_by(ProviderModel.id)
            )
            return [tuple(r) for r in rows]

    before = await snapshot()
    assert any(seen is not None for _, _, seen in before)
    fake.set_models_behavior("synthetic", mode)
    (report,) = await discover_models(h.gateway.sessions, h.gateway.ext, providers=["synthetic"])
    assert report.errors and "left as they were" in report.errors[0]
    assert "synthetic-test-key" not in report.errors[0]
    assert await snapshot() == before
    # the gateway keeps serving from the same registry
    response = await post(h, "gpt-oss-120b-syn", stream=False)
    assert response.status_code == 200
    await assert_no_leak(h)
    assert_clean_logs(caplog)


# --- the client goes away ------------------------------------------------------------------


async def test_a_client_that_hangs_up_mid_stream_releases_the_upstream_connection(h, fake, caplog):
    """Over a real socket: the client reads the first chunks of a long answer (a model
    writing a chunk every 10 ms) and disconnects. The gateway stops reading the upstream,
    its connection leaves the pool (not returned half-read), and the ledger says
    "cancelled"."""
    caplog.set_level(logging.WARNING)
    answer = "word " * 500
    fake.set(FAILING_UPSTREAM, Behavior(kind="ok", content=answer, chunk_delay_s=0.01))
    async with live_server(h.app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            body = {"model": PINNED, "messages": MESSAGES, "stream": True}
            async with client.stream("POST", "/v1/chat/completions", headers=h.auth(), json=body) as response:
                assert response.status_code == 200
                async for _ in response.aiter_bytes():
                    break  # hang up after the first bytes
        assert fake.calls[FAILING_UPSTREAM] == 1
        rows = await wait_until(lambda: ledger_rows(h), what="the ledger row of the abandoned stream")
    assert [(r.status, r.http_status) for r in rows] == [("cancelled", 499)]
    # what was relayed before the hang-up, not the whole answer (which the upstream never finished sending)
    assert rows[0].completion_tokens < tokens_for_chars(len(answer))
    await assert_no_leak(h)
    assert_clean_logs(caplog)
