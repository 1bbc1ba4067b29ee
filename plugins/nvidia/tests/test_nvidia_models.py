"""NVIDIA's static catalog, its /models filtering and its problem-JSON errors."""

from __future__ import annotations

import pytest
from synaxis_nvidia import NVIDIA_MODELS, NvidiaProvider
from synaxis_nvidia.fake_flavor import NON_CHAT_MODELS

from synaxis_core.catalog.normalize import normalize_model_id
from synaxis_core.errors import ModelUnavailable, RateLimited
from synaxis_core.settings import Settings
from synaxis_core.testing import Behavior, FakeUpstream

BODY = {"model": "openai/gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}


def test_catalog_contains_gpt_oss_120b():
    spec = {m.upstream_id: m for m in NVIDIA_MODELS}["openai/gpt-oss-120b"]
    assert (spec.id, spec.global_id, spec.reasoning) == ("gpt-oss-120b-nvidia", "gpt-oss-120b", True)


CHAT_MODELS = [m for m in NVIDIA_MODELS if m.kind == "chat"]


def test_catalog_has_chat_models_and_embedding_models_only():
    ids = [m.id for m in NVIDIA_MODELS]
    assert len(ids) == len(set(ids)) and all(i.endswith("-nvidia") for i in ids)
    upstream = {m.upstream_id for m in CHAT_MODELS}
    for non_chat in ("baai/bge-m3", "black-forest-labs/flux.1-dev", "nvidia/nv-embed-v1",
                     "openai/whisper-large-v3", "nvidia/rerank-qa-mistral-4b", "qwen/qwen-image"):
        assert non_chat not in upstream
    embedding = {m.upstream_id: m for m in NVIDIA_MODELS if m.kind == "embedding"}
    assert {"baai/bge-m3", "nvidia/nv-embed-v1"} <= set(embedding)
    assert "black-forest-labs/flux.1-dev" not in embedding and "nvidia/rerank-qa-mistral-4b" not in embedding
    assert embedding["nvidia/nv-embed-v1"].input_price == 0.0  # the fixture's (free tier), not invented
    assert all(m.global_id == normalize_model_id(m.upstream_id) for m in NVIDIA_MODELS)
    assert {m.id: m.global_id for m in NVIDIA_MODELS}["llama-3.1-70b-instruct-nvidia"] == "llama-3.1-70b-instruct"


async def _provider(fake: FakeUpstream, key: str | None = "k") -> NvidiaProvider:
    env = {"NVIDIA_BASE_URL": fake.base_url("nvidia")}
    if key:
        env["NVIDIA_API_KEY"] = key
    return NvidiaProvider(Settings.from_env(env))


async def test_discovery_drops_non_chat_models_and_needs_no_key():
    async with FakeUpstream() as fake:
        for spec in CHAT_MODELS[:5]:
            fake.add_model("nvidia", spec.upstream_id)
        provider = await _provider(fake, key=None)
        try:
            listed = await provider.discover()
            parsed = provider.parse_models({"data": [{"id": i} for i in NON_CHAT_MODELS]})
        finally:
            await provider.aclose()
    assert NvidiaProvider.discovery_needs_key is False
    assert [m.upstream_id for m in listed] == [s.upstream_id for s in CHAT_MODELS[:5]]
    assert parsed and not any(m.chat for m in parsed)
    assert all(m.input_price is None for m in listed)  # NVIDIA's listing has no prices


async def test_discovery_keeps_the_embedding_models_it_serves():
    embedding = next(m for m in NVIDIA_MODELS if m.kind == "embedding")
    async with FakeUpstream() as fake:
        for upstream_id in (CHAT_MODELS[0].upstream_id, embedding.upstream_id, "nvidia/nv-embedqa-e5-v5"):
            fake.add_model("nvidia", upstream_id)
        provider = await _provider(fake, key=None)
        try:
            listed = [m.upstream_id for m in await provider.discover()]
        finally:
            await provider.aclose()
    assert listed == [CHAT_MODELS[0].upstream_id, embedding.upstream_id]  # not one it does not register


@pytest.mark.parametrize("status", [404, 410])
async def test_retired_or_unknown_model_is_a_model_failure(status):
    async with FakeUpstream() as fake:
        fake.set(BODY["model"], Behavior(kind="model_not_available", status=status))
        provider = await _provider(fake)
        try:
            with pytest.raises(ModelUnavailable) as info:
                await provider.chat(BODY)
        finally:
            await provider.aclose()
    assert info.value.upstream_status == status


async def test_bare_problem_json_429():
    async with FakeUpstream() as fake:
        fake.set(BODY["model"], "rate_limit")
        provider = await _provider(fake)
        try:
            with pytest.raises(RateLimited) as info:
                await provider.chat(BODY)
        finally:
            await provider.aclose()
    assert info.value.retry_after is None and "Too Many Requests" in info.value.message
