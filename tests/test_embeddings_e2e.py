"""``POST /v1/embeddings`` end to end: the official OpenAI SDK, the gateway, the fake upstream.

Two embedding deployments of one global model (``embed-x``: ``embed-a`` cheaper, then
``embed-b``) and a chat deployment, from a config file, all served by the fake upstream.
"""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest
from sqlalchemy import select

from synaxis_core.db.models import UsageRecord
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.fake.embeddings import vector
from synaxis_core.plugins import load_extensions
from synaxis_core.runtime.demo import banner, demo_tenant_key, start_fake_upstream
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.server.app import create_app
from synaxis_core.settings import Settings
from synaxis_core.tenants.service import set_limit
from synaxis_core.testing.gateway import gateway_harness

CONFIG = """
[[providers]]
name = "emb-a"
base_url = "{base}"
api_key_env = "EMB_KEY"

[[providers.models]]
id = "embed-a"
upstream_id = "a/embed"
global_id = "embed-x"
kind = "embedding"
input_price = 0.02

[[providers.models]]
id = "chat-a"
upstream_id = "a/chat"

[[providers]]
name = "emb-b"
base_url = "{base}"
api_key_env = "EMB_KEY"

[[providers.models]]
id = "embed-b"
upstream_id = "b/embed"
global_id = "embed-x"
kind = "embedding"
input_price = 0.10
"""


@pytest.fixture
async def h(tmp_path, sqlite_url):
    async with FakeUpstream() as fake:
        path = tmp_path / "synaxis.toml"
        path.write_text(CONFIG.format(base=fake.base_url("openai")))
        environ = {"SYNAXIS_CONFIG": str(path), "EMB_KEY": "k"}
        async with gateway_harness(fake, database_url=sqlite_url, providers=(), environ=environ) as harness:
            yield harness


async def _ledger(h) -> list[UsageRecord]:
    await h.gateway.ledger.flush()
    async with h.gateway.sessions() as session:
        return list((await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all())


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b))


async def test_sdk_embeds_a_string_routed_to_the_cheapest_deployment(h):
    raw = await h.openai().embeddings.with_raw_response.create(model="embed-x", input="hello world")
    reply = raw.parse()
    assert raw.headers["x-synaxis-model"] == "embed-a" and raw.headers["x-synaxis-attempts"] == "1"
    assert raw.headers["x-request-id"]
    assert reply.model == "embed-x"  # what the client asked for, not the upstream's id
    assert _close(reply.data[0].embedding, vector("hello world"))  # the SDK asked base64 and decoded it
    assert reply.usage.prompt_tokens == 2
    sent = h.fake.requests[-1]
    assert sent.path == "/openai/v1/embeddings" and sent.body["model"] == "a/embed"


async def test_sdk_embeds_lists_token_arrays_base64_and_dimensions(h):
    client = h.openai()
    texts = await client.embeddings.create(model="embed-x", input=["first", "second text"])
    assert [d.index for d in texts.data] == [0, 1]
    assert _close(texts.data[1].embedding, vector("second text"))
    ids = await client.embeddings.create(model="embed-x", input=[1, 2, 3])
    assert _close(ids.data[0].embedding, vector([1, 2, 3])) and ids.usage.prompt_tokens == 3
    arrays = await client.embeddings.create(model="embed-x", input=[[1, 2], [3]])
    assert len(arrays.data) == 2 and _close(arrays.data[1].embedding, vector([3]))
    encoded = await client.embeddings.create(model="embed-x", input="hi", encoding_format="base64")
    raw = base64.b64decode(encoded.data[0].embedding)  # asked for base64: the SDK leaves it so
    assert _close(list(struct.unpack(f"<{len(raw) // 4}f", raw)), vector("hi"))
    floats = await client.embeddings.create(
        model="embed-x", input="hi", dimensions=16, encoding_format="float", user="u-1", extra_body={"input_type": "query"}
    )
    assert len(floats.data[0].embedding) == 16
    sent = h.fake.requests[-1].body
    assert (sent["dimensions"], sent["encoding_format"], sent["user"], sent["input_type"]) == (16, "float", "u-1", "query")


async def test_a_failing_deployment_fails_over_and_the_ledger_says_so(h):
    h.fake.set("a/embed", Behavior(kind="error", status=500))
    raw = await h.openai().embeddings.with_raw_response.create(model="embed-x", input="one two three four")
    assert raw.headers["x-synaxis-model"] == "embed-b" and raw.headers["x-synaxis-attempts"] == "2"
    assert h.fake.calls["a/embed"] >= 1 and h.fake.calls["b/embed"] == 1
    (row,) = await _ledger(h)
    assert (row.provider_model_id, row.global_model_id, row.attempts, row.status) == ("embed-b", "embed-x", 2, "ok")
    assert (row.dialect, row.prompt_tokens, row.completion_tokens) == ("embeddings", 4, 0)
    assert row.cost_usd == pytest.approx(4 * 0.10 / 1_000_000)  # input tokens at embed-b's input price


async def test_client_headers_go_to_every_attempt_and_the_upstream_id_comes_back(h):
    h.fake.set("a/embed", Behavior(kind="rate_limit"))
    answer = await h.client.post("/v1/embeddings", headers={**h.auth(), "idempotency-key": "op-7", "x-other": "no"},
                                 json={"model": "embed-x", "input": "a"})
    assert answer.status_code == 200 and answer.headers["x-synaxis-model"] == "embed-b"
    sent = [r for r in h.fake.requests if r.path.endswith("/embeddings")]
    assert [r.body["model"] for r in sent] == ["a/embed", "b/embed"]
    assert all(r.headers.get("idempotency-key") == "op-7" and "x-other" not in r.headers for r in sent)
    assert answer.headers["x-upstream-request-id"].startswith("req-fake-")
    bad = await h.client.post("/v1/embeddings", headers={**h.auth(), "idempotency-key": "x" * 300},
                              json={"model": "embed-x", "input": "a"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "Idempotency-Key"


async def test_a_failing_embedding_deployment_is_disabled_then_probed_with_an_embedding(h, monkeypatch):
    from synaxis_core.routing.table import deployment_key
    from synaxis_core.runtime import gateway as gateway_module

    monkeypatch.setattr(gateway_module, "PROBE_INTERVAL_S", 3600.0)  # the test runs the probes itself
    h.fake.set("a/embed", Behavior(kind="error", status=500))
    client = h.openai()
    for _ in range(3):  # pinned: no failover, each attempt fails
        with pytest.raises(openai.APIStatusError):
            await client.embeddings.create(model="embed-a", input="x")
    assert not h.gateway.router.table.by_id["embed-a"].active  # 3 failures in a row
    assert h.fake.calls["a/embed"] == 3
    h.fake.set("a/embed", None)  # it recovers
    await h.gateway.backend.clear_cooldown(deployment_key("embed-a"))  # as the cool-down's end would
    assert await h.gateway.probe_disabled() == ["embed-a"]
    probe = [r for r in h.fake.requests if r.body and r.body.get("model") == "a/embed"][-1]
    assert probe.path.endswith("/embeddings") and probe.body["input"]
    assert (await client.embeddings.with_raw_response.create(model="embed-x", input="x")).headers[
        "x-synaxis-model"] == "embed-a"


async def test_ledger_row_and_metrics_of_an_embedding_request(h):
    await h.openai().embeddings.create(model="embed-a", input=["a b", "c d e"])
    (row,) = await _ledger(h)
    assert (row.requested_model, row.provider_model_id, row.dialect, row.stream) == ("embed-a", "embed-a", "embeddings", False)
    assert (row.prompt_tokens, row.completion_tokens, row.http_status) == (5, 0, 200)
    assert row.cost_usd == pytest.approx(5 * 0.02 / 1_000_000)
    metrics = (await h.client.get("/metrics")).text
    assert 'dialect="embeddings"' in metrics


async def test_tenant_rpm_limit_applies_to_embeddings(h):
    await set_limit(h.gateway.sessions, "test", "*", rpm=1)
    await h.gateway.reload_auth()
    client = h.openai()
    await client.embeddings.create(model="embed-x", input="x")
    with pytest.raises(openai.RateLimitError) as err:
        await client.embeddings.create(model="embed-x", input="x")
    assert err.value.body["code"] == "rate_limit_exceeded" and h.fake.calls["a/embed"] == 1


async def test_tenant_tpm_counts_the_input_tokens_only(h):
    """A chat request is admitted with ~256 output tokens assumed; an embedding with none."""
    await set_limit(h.gateway.sessions, "test", "*", tpm=10)
    await h.gateway.reload_auth()
    client = h.openai()
    for _ in range(2):
        await client.embeddings.create(model="embed-x", input="abcd efgh ijkl m")  # ~4 tokens each
    with pytest.raises(openai.RateLimitError):
        await client.embeddings.create(model="embed-x", input="abcd efgh ijkl m")  # 12 > 10
    assert h.fake.calls["a/embed"] == 2


async def test_a_spent_budget_refuses_embeddings(h):
    """Each request costs 2 input tokens at $0.10/M = $2e-7: a $1e-6 budget lasts a few."""
    await set_limit(h.gateway.sessions, "test", "*", budget_usd=0.000001)
    await h.gateway.reload_auth()
    client = h.openai()
    with pytest.raises(openai.RateLimitError) as err:
        for _ in range(20):
            await client.embeddings.create(model="embed-b", input="word word")
    assert err.value.body["type"] == "insufficient_quota"
    answered = h.fake.calls["b/embed"]
    assert 1 <= answered <= 5
    rows = [r for r in await _ledger(h) if r.status == "ok"]
    assert len(rows) == answered and sum(r.cost_usd for r in rows) == pytest.approx(answered * 2e-7)


async def test_a_chat_model_is_no_embedding_model_and_the_reverse(h):
    with pytest.raises(openai.BadRequestError) as err:
        await h.openai().embeddings.create(model="chat-a", input="x")
    assert err.value.body["param"] == "model" and err.value.body["type"] == "invalid_request_error"
    assert "not an embedding model" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        await h.openai().chat.completions.create(model="embed-x", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["param"] == "model" and "is an embedding model" in err.value.body["message"]
    responses = await h.client.post("/v1/responses", headers=h.auth(), json={"model": "embed-a", "input": "hi"})
    assert responses.status_code == 400 and responses.json()["error"]["param"] == "model"
    assert h.fake.calls["a/chat"] == 0 and not h.fake.calls["a/embed"]  # refused before any upstream call


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "embed-x", "input": ""}, "input"),
    ({"model": "embed-x", "input": []}, "input"),
    ({"model": "embed-x", "input": [1, "a"]}, "input"),
    ({"model": "embed-x", "input": {"text": "a"}}, "input"),
    ({"model": "embed-x"}, "input"),
    ({"model": "embed-x", "input": "a", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "embed-x", "input": "a", "dimensions": -1}, "dimensions"),
    ({"input": "a"}, "model"),
])
async def test_bad_input_is_an_openai_shaped_400(h, body, param):
    answer = await h.client.post("/v1/embeddings", headers=h.auth(), json=body)
    assert answer.status_code == 400 and answer.headers["x-request-id"]
    error = answer.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]
    (row,) = await _ledger(h)
    assert (row.status, row.http_status, row.dialect) == ("error", 400, "embeddings")


async def test_unknown_model_key_and_method_errors(h):
    missing = await h.client.post("/v1/embeddings", headers=h.auth(), json={"model": "embed-y", "input": "a"})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "model"
    assert (await h.client.post("/v1/embeddings", json={"model": "embed-x", "input": "a"})).status_code == 401
    assert (await h.client.get("/v1/embeddings", headers=h.auth())).status_code == 405


async def test_models_list_and_schema_show_the_kind(h):
    listed = {m["id"]: m for m in (await h.client.get("/v1/models", headers=h.auth())).json()["data"]}
    assert listed["embed-a"]["kind"] == "embedding" and listed["chat-a"]["kind"] == "chat"
    assert listed["embed-x"]["kind"] == "embedding" and listed["embed-x"]["deployments"] == ["embed-a", "embed-b"]
    admin = {m["id"]: m for m in (await h.client.get("/admin/models", headers=h.admin())).json()}
    assert admin["embed-b"]["kind"] == "embedding"
    schema = (await h.client.get("/schema/openapi.json")).json()
    assert schema["paths"]["/v1/embeddings"]["post"]["operationId"] == "createEmbedding"


async def test_demo_mode_serves_embeddings_out_of_the_box(tmp_path, sqlite_url):
    settings = Settings.from_env({"SYNAXIS_DATABASE_URL": sqlite_url})
    fake, effective = await start_fake_upstream(settings, load_extensions(settings))
    try:
        ext = load_extensions(effective)
        gateway = await Gateway.open(effective, ext=ext)
        try:
            key = await demo_tenant_key(gateway, tmp_path / "demo-key")
            shown = banner(effective, ext, key)
            model = shown.split('"model": "')[-1].split('"')[0]  # the banner's embeddings example
            assert "/v1/embeddings" in shown and gateway.router.table.by_id[model].spec.kind == "embedding"
            app = create_app(effective, gateway=gateway)
            app.state.gateway = gateway
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
                answer = await client.post("/v1/embeddings", headers={"authorization": f"Bearer {key}"},
                                           json={"model": model, "input": "Hi"})
        finally:
            await gateway.close()
    finally:
        await fake.astop()
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == model and len(answer.json()["data"][0]["embedding"]) == 8


async def test_an_upstream_without_usage_is_estimated_and_a_malformed_one_fails(tmp_path, sqlite_url):
    from aiohttp import web

    answers = [{"data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.5]}]},  # no usage, no model
               {"data": [{"index": 0, "embedding": 5}]}]  # not a vector

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(answers.pop(0))

    app = web.Application()
    app.router.add_post("/v1/embeddings", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = tmp_path / "own.toml"
    config.write_text(f'[[providers]]\nname = "own"\nbase_url = "http://127.0.0.1:{port}/v1"\n\n'
                      '[[providers.models]]\nid = "own-embed"\nupstream_id = "own/e"\nkind = "embedding"\n')
    try:
        async with FakeUpstream() as fake, gateway_harness(
            fake, database_url=sqlite_url, providers=(), environ={"SYNAXIS_CONFIG": str(config)}
        ) as h:
            reply = await h.openai().embeddings.create(model="own-embed", input="abcdefghijkl", encoding_format="float")
            assert reply.data[0].embedding == [0.5, -0.5] and reply.model == "own-embed"
            assert reply.usage.prompt_tokens == 3  # 12 characters, about four a token
            broken = await h.client.post("/v1/embeddings", headers=h.auth(), json={"model": "own-embed", "input": "a"})
            assert broken.status_code == 502 and "upstream_protocol_error" in broken.json()["error"]["message"]
            first, second = await _ledger(h)
    finally:
        await runner.cleanup()
    assert (first.prompt_tokens, first.completion_tokens, first.status) == (3, 0, "ok")
    assert (second.status, second.http_status) == ("error", 502)
