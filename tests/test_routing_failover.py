"""Routing behaviour a user notices: cheapest first, failover, auto-disable, cool-downs, recovery."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from synaxis_core.cli import cli
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.routing.table import deployment_key
from synaxis_core.runtime import gateway as gateway_module
from synaxis_core.testing.gateway import gateway_harness

MESSAGES = [{"role": "user", "content": "Predict the score."}]
NVIDIA_GPT_OSS = "openai/gpt-oss-120b"  # the same upstream id at NVIDIA and Together
SYN_GPT_OSS = "hf:openai/gpt-oss-120b"


@pytest.fixture
def fake():
    with FakeUpstream() as upstream:
        yield upstream


def calls_to(fake: FakeUpstream, flavor: str) -> int:
    return sum(1 for r in fake.requests if r.flavor == flavor and r.path.endswith("/chat/completions"))


async def send(h, n: int, model: str = "gpt-oss-120b") -> list:
    client = h.openai()
    return [
        await client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES) for _ in range(n)
    ]


async def test_the_free_deployment_is_chosen(fake, sqlite_url):
    async with gateway_harness(fake, database_url=sqlite_url) as h:
        (raw,) = await send(h, 1)
    assert raw.headers["x-synaxis-model"] == "gpt-oss-120b-nvidia"


async def test_a_dead_primary_is_called_three_times_then_disabled(fake, database_url):
    fake.set(NVIDIA_GPT_OSS, Behavior(kind="error", status=500))
    async with gateway_harness(fake, database_url=database_url, providers=("nvidia", "synthetic")) as h:
        replies = await send(h, 15)
        assert all(r.http_response.status_code == 200 for r in replies)
        assert {r.headers["x-synaxis-model"] for r in replies[3:]} == {"gpt-oss-120b-syn"}
        assert calls_to(fake, "nvidia") == 3
        await h.gateway.drain()  # the background write of the disable has reached the database
        admin = (await h.client.get("/admin/models", headers=h.admin())).json()
        row = next(m for m in admin if m["id"] == "gpt-oss-120b-nvidia")
        assert row["active"] is False and row["disabled_by"] == "health"
        assert "3 consecutive failures" in row["disabled_reason"] and "500" in row["disabled_reason"]
    listed = await asyncio.to_thread(
        CliRunner().invoke, cli, ["models", "--json", "--provider", "nvidia"], env={"SYNAXIS_DATABASE_URL": database_url}
    )
    assert listed.exit_code == 0, listed.output
    model = next(m for m in json.loads(listed.output) if m["id"] == "gpt-oss-120b-nvidia")
    assert model["active"] is False and "3 consecutive failures" in model["disabled_reason"]


async def test_a_rate_limited_deployment_is_called_once_in_fifteen(fake, sqlite_url):
    fake.set(NVIDIA_GPT_OSS, Behavior(kind="rate_limit", retry_after="30"))
    async with gateway_harness(fake, database_url=sqlite_url, providers=("nvidia", "synthetic")) as h:
        replies = await send(h, 15)
        assert all(r.http_response.status_code == 200 for r in replies)
        assert calls_to(fake, "nvidia") == 1
        # a 429 is not a model failure: the deployment is cooled down, not disabled
        assert h.gateway.router.table.by_id["gpt-oss-120b-nvidia"].active


async def test_a_stalled_deployment_times_out_and_the_next_answers(fake, sqlite_url):
    """NVIDIA stalls far longer than its 0.5 s timeout (had the gateway waited, NVIDIA
    would have answered): the attempt ends as a timeout and Synthetic answers."""
    fake.set(NVIDIA_GPT_OSS, Behavior(kind="stall", delay_s=30))
    async with gateway_harness(
        fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), timeout_s=0.5
    ) as h:
        (raw,) = await send(h, 1)
        metrics = (await h.client.get("/metrics")).text
    assert raw.headers["x-synaxis-model"] == "gpt-oss-120b-syn" and raw.headers["x-synaxis-attempts"] == "2"
    assert calls_to(fake, "nvidia") == 1
    timed_out = 'synaxis_upstream_attempts_total{deployment="gpt-oss-120b-nvidia",outcome="upstream_timeout",provider="nvidia"} 1.0'
    assert timed_out in metrics, [line for line in metrics.splitlines() if "upstream_attempts" in line]


async def test_a_recovered_deployment_is_probed_and_used_again(fake, sqlite_url, monkeypatch):
    """The cool-down is an hour, so no clock ends it during the test: the test ends it
    through the state backend (as its expiry would) and runs the probes itself (the
    background prober is kept asleep), so what is probed follows the cool-down alone."""
    monkeypatch.setattr(gateway_module, "PROBE_INTERVAL_S", 3600.0)
    fake.set(NVIDIA_GPT_OSS, Behavior(kind="error", status=500))
    async with gateway_harness(
        fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), disable_cooldown_s=3600
    ) as h:
        backend, cooldown = h.gateway.backend, deployment_key("gpt-oss-120b-nvidia")
        await send(h, 3)
        assert not h.gateway.router.table.by_id["gpt-oss-120b-nvidia"].active
        assert cooldown in await backend.get_cooldowns([cooldown])
        assert await h.gateway.probe_disabled() == []  # still cooling down: no probe yet
        assert calls_to(fake, "nvidia") == 3
        await backend.clear_cooldown(cooldown)  # the cool-down is over
        assert await h.gateway.probe_disabled() == []  # cooled down, probed, still failing
        assert calls_to(fake, "nvidia") == 4
        assert cooldown in await backend.get_cooldowns([cooldown])  # the failed probe cools it down again
        fake.set(NVIDIA_GPT_OSS, None)  # it recovers
        assert await h.gateway.probe_disabled() == []  # but stays unprobed while cooling down
        assert calls_to(fake, "nvidia") == 4
        (raw,) = await send(h, 1)
        assert raw.headers["x-synaxis-model"] == "gpt-oss-120b-syn"  # and unused
        await backend.clear_cooldown(cooldown)
        assert await h.gateway.probe_disabled() == ["gpt-oss-120b-nvidia"]
        assert calls_to(fake, "nvidia") == 5
        (raw,) = await send(h, 1)
        assert raw.headers["x-synaxis-model"] == "gpt-oss-120b-nvidia"


async def test_pinned_deployment_without_its_key_names_the_variable(fake, sqlite_url):
    async with gateway_harness(
        fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), environ={"SYNTHETIC_API_KEY": ""}
    ) as h:
        response = await h.client.post(
            "/v1/chat/completions", headers=h.auth(), json={"model": "glm-4.6-syn", "messages": MESSAGES}
        )
    assert response.status_code == 503
    assert "SYNTHETIC_API_KEY" in response.json()["error"]["message"]


async def test_when_every_candidate_fails_the_error_lists_each_attempt(fake, sqlite_url):
    fake.set(NVIDIA_GPT_OSS, Behavior(kind="error", status=503))
    fake.set(SYN_GPT_OSS, Behavior(kind="model_not_available"))
    async with gateway_harness(fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), upstream_retries=0) as h:
        response = await h.client.post(
            "/v1/chat/completions", headers=h.auth(), json={"model": "gpt-oss-120b", "messages": MESSAGES}
        )
    error = response.json()["error"]
    assert response.status_code == 502 and error["code"] == "all_candidates_failed"
    assert "gpt-oss-120b-nvidia (nvidia): 503" in error["message"] and "gpt-oss-120b-syn (synthetic)" in error["message"]
