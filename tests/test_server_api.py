"""The rest of the HTTP surface: errors in the OpenAI shape, admin, usage, health, metrics."""

from __future__ import annotations

import httpx
import pytest

from synaxis_core.fake import FakeUpstream
from synaxis_core.testing.gateway import gateway_harness

CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
async def h(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url, max_body_bytes=50_000) as harness:
        yield harness


def assert_openai_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


async def test_malformed_json_is_a_400(h):
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), content=b'{"model": ')
    assert "not valid JSON" in assert_openai_error(response, 400)["message"]


async def test_missing_messages_is_a_400_naming_it(h):
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json={"model": "x"})
    assert assert_openai_error(response, 400, "missing_required_parameter")["param"] == "messages"


async def test_wrong_type_names_the_field(h):
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json={**CHAT, "max_tokens": "lots"})
    assert assert_openai_error(response, 400)["param"] == "max_tokens"


async def test_a_body_over_the_limit_is_a_413(h):
    huge = {**CHAT, "messages": [{"role": "user", "content": "x" * 60_000}]}
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json=huge)
    assert_openai_error(response, 413)


async def test_an_xml_body_is_a_415(h):
    response = await h.client.post(
        "/v1/chat/completions", headers={**h.auth(), "content-type": "application/xml"}, content=b"<chat/>"
    )
    assert_openai_error(response, 415, "unsupported_media_type")


async def test_unknown_route_is_a_404_in_the_openai_shape(h):
    assert_openai_error(await h.client.get("/v1/nothing-here", headers=h.auth()), 404)


async def test_missing_key_is_a_401(h):
    response = await h.client.post("/v1/chat/completions", json=CHAT)
    assert "keys create" in assert_openai_error(response, 401, "invalid_api_key")["message"]


async def test_admin_routes_refuse_tenant_keys_and_accept_the_admin_key(h):
    assert_openai_error(await h.client.get("/admin/models", headers=h.auth()), 403)
    assert_openai_error(await h.client.get("/admin/models"), 401)
    response = await h.client.get("/admin/models", headers=h.admin())
    assert response.status_code == 200 and any(m["id"] == "gpt-oss-120b-nvidia" for m in response.json())


async def test_admin_can_disable_and_enable_a_deployment(h):
    disabled = await h.client.patch(
        "/admin/models/gpt-oss-120b-nvidia", headers=h.admin(), json={"active": False, "reason": "maintenance"}
    )
    assert disabled.status_code == 200
    assert disabled.json()["disabled_reason"] == "maintenance" and disabled.json()["disabled_by"] == "admin"
    reply = await h.client.post("/v1/chat/completions", headers=h.auth(), json=CHAT)
    assert reply.headers["x-synaxis-model"] != "gpt-oss-120b-nvidia"

    await h.client.patch("/admin/models/gpt-oss-120b-nvidia", headers=h.admin(), json={"active": True})
    reply = await h.client.post("/v1/chat/completions", headers=h.auth(), json=CHAT)
    assert reply.headers["x-synaxis-model"] == "gpt-oss-120b-nvidia"
    assert_openai_error(await h.client.patch("/admin/models/nope", headers=h.admin(), json={"active": True}), 404)


async def test_admin_keys_limits_and_revocation(h):
    created = (await h.client.post("/admin/tenants/acme/keys", headers=h.admin())).json()
    key = created["key"]
    assert (await h.client.post("/v1/chat/completions", headers=h.auth(key), json=CHAT)).status_code == 200
    limit = await h.client.put("/admin/tenants/acme/limits", headers=h.admin(), json={"model": "*", "rpm": 0})
    assert limit.status_code == 200 and limit.json()["rpm"] == 0
    assert_openai_error(await h.client.post("/v1/chat/completions", headers=h.auth(key), json=CHAT), 429, "rate_limit_exceeded")
    revoked = await h.client.delete(f"/admin/keys/{created['prefix']}", headers=h.admin())
    assert revoked.json() == {"revoked": 1}
    assert_openai_error(await h.client.post("/v1/chat/completions", headers=h.auth(key), json=CHAT), 401)


async def test_a_tenant_sees_only_its_own_usage(h):
    other = (await h.client.post("/admin/tenants/other/keys", headers=h.admin())).json()["key"]
    await h.client.post("/v1/chat/completions", headers=h.auth(), json=CHAT)
    await h.client.post("/v1/chat/completions", headers=h.auth(other), json=CHAT)
    await h.client.post("/v1/chat/completions", headers=h.auth(other), json=CHAT)
    await h.gateway.ledger.flush()
    mine = (await h.client.get("/v1/usage", headers=h.auth())).json()
    assert mine["tenant"] == "test" and sum(r["requests"] for r in mine["data"]) == 1
    assert {r["tenant"] for r in mine["data"]} == {"test"}
    everyone = (await h.client.get("/admin/usage", headers=h.admin())).json()
    assert sum(r["requests"] for r in everyone) == 3


async def test_every_answered_request_is_in_the_ledger_with_its_cost(h):
    for model in ("gpt-oss-120b", "gpt-oss-120b-syn", "no-such-model"):
        await h.client.post("/v1/chat/completions", headers=h.auth(), json={**CHAT, "model": model})
    await h.gateway.ledger.flush()
    rows = {r["model"]: r for r in (await h.client.get("/admin/usage", headers=h.admin())).json()}
    assert rows["gpt-oss-120b-nvidia"]["ok"] == 1 and rows["gpt-oss-120b-nvidia"]["cost_usd"] == 0
    assert rows["gpt-oss-120b-syn"]["cost_usd"] > 0 and rows["gpt-oss-120b-syn"]["completion_tokens"] > 0
    assert rows["no-such-model"]["errors"] == 1


async def test_health_reports_the_database(h):
    body = (await h.client.get("/health")).json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["demo"] is False
    assert body["routable"] > 0


async def test_metrics_count_requests_and_attempts(h):
    await h.client.post("/v1/chat/completions", headers=h.auth(), json=CHAT)
    text = (await h.client.get("/metrics")).text
    assert 'synaxis_requests_total{dialect="chat",model="gpt-oss-120b",status="ok"} 1.0' in text
    assert 'synaxis_upstream_attempts_total{deployment="gpt-oss-120b-nvidia",outcome="ok",provider="nvidia"} 1.0' in text
    assert 'synaxis_request_latency_seconds_count{stream="false"} 1.0' in text
    assert 'synaxis_request_latency_seconds_bucket{le="+Inf",stream="false"} 1.0' in text
    assert 'synaxis_request_latency_seconds_bucket{le="120.0",stream="false"} 1.0' in text
    assert "synaxis_failovers_total 0.0" in text
    assert 'synaxis_tokens_total{deployment="gpt-oss-120b-nvidia",direction="in"}' in text
    assert "test-key" not in text and h.key not in text


async def test_openapi_schema_lists_the_routes(h):
    schema = (await h.client.get("/schema/openapi.json")).json()
    assert {"/v1/chat/completions", "/v1/models", "/health", "/admin/models"} <= set(schema["paths"])


async def test_client_chosen_model_names_never_become_metric_labels(h):
    await h.client.post("/v1/chat/completions", headers=h.auth(), json={**CHAT, "model": "made-up-model-xyz"})
    text = (await h.client.get("/metrics")).text
    assert "made-up-model-xyz" not in text
    assert 'synaxis_requests_total{dialect="chat",model="-",status="error"} 1.0' in text


async def test_the_chat_path_has_one_entrance_and_is_documented(h):
    """Every method on the chat path reaches the plain ASGI endpoint, which answers a wrong
    one itself (405, OpenAI shape, with the request id); ``/schema`` still documents it."""
    wrong_method = await h.client.get("/v1/chat/completions", headers=h.auth())
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_method.headers["x-request-id"]
    schema = (await h.client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/v1/chat/completions"]["post"]
    assert operation["operationId"] == "createChatCompletion" and "429" in operation["responses"]
