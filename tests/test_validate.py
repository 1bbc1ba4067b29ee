"""``synaxis validate``: every active model, end to end, against the fake upstream."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from synaxis_core.cli import cli
from synaxis_core.db.models import ApiKey, ProviderModel, Tenant, ValidationResult
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import fake_environ, gateway_harness
from synaxis_core.validation import TENANT, validate
from synaxis_core.validation.checks import Answer, extract_json, judge, judge_status, parse_embedding, parse_stream

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

R1 = "hf:deepseek-ai/DeepSeek-R1-0528"
QWEN_THINKING = "hf:Qwen/Qwen3-235B-A22B-Thinking-2507"
GLM = "hf:zai-org/GLM-4.7"
BROKEN = "hf:MiniMaxAI/MiniMax-M2"
SYNTHETIC_IDS = {
    "deepseek-r1-0528-syn", "kimi-k2-thinking-syn", "qwen3-235b-thinking-syn", "deepseek-v3-0324-syn",
    "deepseek-v3.1-terminus-syn", "deepseek-v3.2-syn", "minimax-m2-syn", "minimax-m2.1-syn", "kimi-k2.5-syn",
    "glm-4.6-syn", "glm-4.7-syn", "qwen3-coder-480b-syn", "gpt-oss-120b-syn", "qwen3-235b-instruct-syn",
}


def script(fake: FakeUpstream) -> None:
    fake.set(R1, Behavior(kind="think_inline", chunk_size=3))
    fake.set(QWEN_THINKING, Behavior(kind="think_close_only", chunk_size=3))
    fake.set(GLM, Behavior(kind="chinese"))
    fake.set(BROKEN, Behavior(kind="error", status=500))


async def test_validate_checks_every_synthetic_model_and_disables_the_failing_ones(database_url):
    progress: list[tuple[int, int]] = []
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=database_url, providers=("synthetic",)) as h:
        script(fake)
        report = await validate(h.gateway, progress=lambda done, total, _: progress.append((done, total)))

        results = {r.model: r for r in report.results}
        assert set(results) == SYNTHETIC_IDS
        assert progress[0] == (0, 14) and progress[-1] == (14, 14)
        assert (report.passed, report.failed) == (12, 2)

        for model in ("deepseek-r1-0528-syn", "qwen3-235b-thinking-syn"):
            r = results[model]
            assert r.ok and r.stream_ok and not r.disabled, r
            assert r.reasoning_chars > 0 and r.stream_reasoning_chars > 0  # separated, streamed and not
            assert json.loads(r.sample)["home_goals"] == 2
        assert fake.calls[R1] == fake.calls[QWEN_THINKING] == 2  # one non-streamed, one streamed

        glm = results["glm-4.7-syn"]
        assert not glm.ok and glm.reason == "non-English output" and glm.disabled
        broken = results["minimax-m2-syn"]
        assert not broken.ok and broken.disabled and "500" in broken.reason

        # the running table, the registry rows and the admin API agree
        for model in ("glm-4.7-syn", "minimax-m2-syn"):
            assert not h.gateway.router.table.by_id[model].active
        async with h.gateway.sessions() as session:
            synthetic = select(ProviderModel).where(ProviderModel.provider == "synthetic")
            rows = {r.id: r for r in await session.scalars(synthetic)}
            stored = list(await session.scalars(select(ValidationResult)))
            keys = list(await session.scalars(select(ApiKey).join(Tenant).where(Tenant.name == TENANT)))
        assert (rows["glm-4.7-syn"].active, rows["glm-4.7-syn"].disabled_by) == (False, "validate")
        assert rows["glm-4.7-syn"].disabled_reason == "non-English output" and rows["glm-4.7-syn"].disabled_at
        assert rows["minimax-m2-syn"].disabled_by == "validate" and "500" in rows["minimax-m2-syn"].disabled_reason
        assert sum(r.active for r in rows.values()) == 12
        admin = {m["id"]: m for m in (await h.client.get("/admin/models", headers=h.admin())).json()}
        glm_row = admin["glm-4.7-syn"]
        assert (glm_row["active"], glm_row["disabled_by"], glm_row["disabled_reason"]) == (
            False, "validate", "non-English output"
        )

        assert sorted(r.provider_model_id for r in stored) == sorted(SYNTHETIC_IDS)
        assert {r.run_id for r in stored} == {report.run_id}
        by_model = {r.provider_model_id: r for r in stored}
        assert by_model["glm-4.7-syn"].ok is False and by_model["glm-4.7-syn"].reason == "non-English output"
        assert "根据" in by_model["glm-4.7-syn"].sample and by_model["deepseek-r1-0528-syn"].latency_ms > 0
        assert keys and all(k.revoked_at is not None for k in keys)  # the run's key is revoked after it

        # a disabled model is not validated again; the client sees it disabled
        again = await validate(h.gateway, provider="synthetic")
        assert len(again.results) == 12 and again.failed == 0
        reply = await h.client.post(
            "/v1/chat/completions", headers=h.auth(),
            json={"model": "glm-4.7-syn", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert reply.status_code == 503 and "non-English output" in reply.json()["error"]["message"]


async def test_a_rate_limited_model_fails_the_run_but_stays_enabled(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        fake.set(GLM, Behavior(kind="rate_limit", retry_after="30"))
        report = await validate(h.gateway, model="glm-4.7-syn")
        (result,) = report.results
        assert not result.ok and not result.disabled and "429" in result.reason
        assert h.gateway.router.table.by_id["glm-4.7-syn"].active


async def test_a_stalled_model_times_out_and_is_disabled(sqlite_url):
    async with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",), timeout_s=0.3) as h:
            fake.set(GLM, Behavior(kind="stall", delay_s=5))
            (result,) = (await validate(h.gateway, model="glm-4.7-syn")).results
            assert result.disabled and "upstream_timeout" in result.reason and result.latency_ms < 3000


async def test_a_refused_provider_key_disables_nothing(sqlite_url):
    async with FakeUpstream(api_key="the-right-key") as fake:
        async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
            report = await validate(h.gateway, concurrency=2)
            assert report.failed == 14 and not any(r.disabled for r in report.results)
            assert all(d.active for d in h.gateway.router.table.by_id.values())


async def test_filters_and_a_reasoning_tag_left_in_the_answer(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        # a model without a think-tag stripper that thinks inline anyway
        fake.set("hf:openai/gpt-oss-120b", Behavior(kind="think_inline"))
        report = await validate(h.gateway, model="gpt-oss-120b")  # a global id
        (result,) = report.results
        assert result.model == "gpt-oss-120b-syn" and result.reason == "reasoning tag <think> left in the answer"
        assert (await validate(h.gateway, provider="nvidia")).results == []


NVIDIA_EMBEDDINGS = {
    "bge-m3-nvidia", "llama-3.2-nemoretriever-300m-embed-v1-nvidia", "llama-nemotron-embed-vl-1b-v2-nvidia",
    "nv-embed-v1-nvidia", "nv-embedcode-7b-v1-nvidia",
}


async def test_embedding_models_are_validated_on_the_embeddings_route(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url, providers=("nvidia",)) as h:
        fake.set("nvidia/nv-embed-v1", Behavior(kind="error", status=500))
        report = await validate(h.gateway, provider="nvidia")
        results = {r.model: r for r in report.results}
        assert NVIDIA_EMBEDDINGS <= set(results) and not report.skipped
        good = results["bge-m3-nvidia"]
        assert good.ok and good.stream_ok and not good.disabled
        assert re.fullmatch(r"an embedding of \d+ dimensions", good.sample)
        assert fake.calls["baai/bge-m3"] == 1  # asked once, on /v1/embeddings
        broken = results["nv-embed-v1-nvidia"]
        assert not broken.ok and broken.disabled and "500" in broken.reason
        assert not h.gateway.router.table.by_id["nv-embed-v1-nvidia"].active


@pytest.mark.parametrize(("status", "body", "reason"), [
    (200, {"data": [{"embedding": [0.1, -0.2]}]}, None),
    (200, {"data": []}, "the response has no embedding"),
    (200, {"data": [{"embedding": [0.1, "x"]}]}, "the embedding is not a list of finite numbers"),
    (429, {"error": {"message": "slow down"}}, "slow down"),
])
def test_an_embedding_answer_is_judged(status, body, reason):
    verdict = judge_status(parse_embedding(status, json.dumps(body).encode()))
    assert (verdict.reason if verdict else None) == reason
    if status == 429:
        assert not verdict.model_fault  # a rate limit says nothing about the model


def test_streams_are_put_back_together_and_judged():
    body = (
        b': keep-alive\n\ndata: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hm",'
        b'"content":"```json\\n{\\"home_goals\\": 1, "}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"\\"away_goals\\": 0, \\"confidence\\": 0.5}\\n```"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    answer = parse_stream(200, body)
    assert answer.reasoning == "hm" and judge(answer) is None
    assert judge(parse_stream(200, body.replace(b"data: [DONE]\n\n", b""))).reason == "the stream ended without [DONE]"
    broken = body.replace(b"data: [DONE]", b'data: {"error": {"message": "The upstream stream failed"}}')
    assert judge(parse_stream(200, broken)).reason == "The upstream stream failed"
    assert extract_json('Sure! {"home_goals": 3} and {"x": 1}') == {"home_goals": 3}
    assert judge(Answer(200, '{"home_goals": 1, "away_goals": 0}')).reason == "the JSON answer lacks confidence"
    assert judge(Answer(200, "I think 2-1.")).reason == "the answer is not JSON"
    assert judge(Answer(200, "  ")).reason == "empty answer"
    only_reasoning = judge(Answer(200, None, reasoning="all of it"))
    assert only_reasoning.reason == "empty answer: all of the output was taken as reasoning"
    assert judge(Answer(429, error="slow down")).model_fault is False


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli_env(sqlite_url):
    with FakeUpstream() as fake:
        env = {
            **fake_environ(fake, ("synthetic",)),
            "SYNAXIS_DATABASE_URL": sqlite_url,
            "SYNAXIS_LOAD_PLUGINS": "synthetic",
        }
        yield fake, env


def invoke(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_cli_validate_json_exits_1_when_a_model_fails(cli_env):
    fake, env = cli_env
    fake.set(QWEN_THINKING, Behavior(kind="think_close_only"))  # its template always closes the reasoning
    fake.set(BROKEN, Behavior(kind="error", status=500))
    done = invoke(["validate", "--json", "--concurrency", "8"], env)
    assert done.exit_code == 1, done.output
    report = json.loads(done.stdout)
    assert {r["model"] for r in report["results"]} == SYNTHETIC_IDS
    assert (report["passed"], report["failed"]) == (13, 1) and len(report["run_id"]) == 32
    broken = next(r for r in report["results"] if r["model"] == "minimax-m2-syn")
    assert broken["ok"] is False and broken["disabled"] is True and "500" in broken["reason"]
    assert set(broken) >= {"model", "provider", "ok", "reason", "latency_ms", "stream_ok", "sample"}

    listed = json.loads(invoke(["models", "--json"], env).stdout)
    assert next(m for m in listed if m["id"] == "minimax-m2-syn")["disabled_reason"] == broken["reason"]

    one = invoke(["validate", "--json", "--model", "deepseek-r1-0528-syn"], env)
    assert one.exit_code == 0, one.output
    assert [r["model"] for r in json.loads(one.stdout)["results"]] == ["deepseek-r1-0528-syn"]

    table = invoke(["validate", "--provider", "synthetic"], env)  # the disabled model is left out
    assert table.exit_code == 0, table.output
    assert "deepseek-r1-0528-syn" in table.stdout and "minimax-m2-syn" not in table.stdout
    assert "13 models: 13 passed, 0 failed" in table.stderr


def test_cli_validate_with_nothing_to_check_says_why(cli_env):
    _, env = cli_env
    done = invoke(["validate", "--model", "no-such-model"], env)
    assert done.exit_code == 1 and "no active model to validate matches --model no-such-model" in done.stderr


async def test_cli_validate_from_an_async_test(cli_env):
    fake, env = cli_env
    fake.set(GLM, Behavior(kind="chinese"))
    done = await asyncio.to_thread(invoke, ["validate", "--json", "--model", "glm-4.7-syn"], env)
    assert done.exit_code == 1
    (result,) = json.loads(done.stdout)["results"]
    assert result["reason"] == "non-English output" and result["stream_ok"] is False
