"""Together's static catalog, ``eos`` -> ``stop``, its bare-array /models and dedicated models."""

from __future__ import annotations

import json

import pytest
from synaxis_together import TOGETHER_MODELS, TogetherProvider

from synaxis_core.catalog.normalize import normalize_model_id
from synaxis_core.errors import ModelUnavailable
from synaxis_core.settings import Settings
from synaxis_core.testing import Behavior, FakeUpstream

FIXTURE = "/work/shared/fixtures/modelsdev_api_subset.json"


def test_catalog_contains_gpt_oss_120b():
    by_upstream = {m.upstream_id: m for m in TOGETHER_MODELS}
    spec = by_upstream["openai/gpt-oss-120b"]
    assert (spec.id, spec.global_id) == ("gpt-oss-120b-together", "gpt-oss-120b")
    assert (spec.input_price, spec.output_price) == (0.15, 0.6)


def test_catalog_ids_and_global_ids():
    ids = [m.id for m in TOGETHER_MODELS]
    assert len(ids) == len(set(ids)) and all(i.endswith("-together") for i in ids)
    assert all(m.global_id == normalize_model_id(m.upstream_id) for m in TOGETHER_MODELS)


def test_catalog_skips_deprecated_models():
    try:
        with open(FIXTURE) as f:
            models = json.load(f)["togetherai"]["models"]
    except FileNotFoundError:
        pytest.skip("the models.dev fixture is not on this machine")
    deprecated = {mid for mid, m in models.items() if m.get("status") == "deprecated"}
    assert deprecated and not deprecated & {m.upstream_id for m in TOGETHER_MODELS}


def test_eos_means_stop():
    provider = TogetherProvider(Settings.from_env({}))
    response = {"choices": [{"index": 0, "message": {"content": "x", "reasoning": "r"}, "finish_reason": "eos"}]}
    normalised = provider.normalize_response(response)
    assert normalised["choices"][0]["finish_reason"] == "stop"
    assert normalised["choices"][0]["message"]["reasoning"] == "r"  # left for the post-processor
    chunk = provider.normalize_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "eos"}]})
    assert chunk["choices"][0]["finish_reason"] == "stop"
    assert provider.normalize_chunk({"choices": []}) == {"choices": []}


async def test_eos_means_stop_end_to_end():
    model = "openai/gpt-oss-120b"
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with FakeUpstream() as fake:
        fake.set(model, Behavior(kind="reasoning_field"))
        env = {"TOGETHER_API_KEY": "k", "TOGETHER_BASE_URL": fake.base_url("together")}
        provider = TogetherProvider(Settings.from_env(env))
        try:
            response = await provider.chat(body)
            chunks = [c async for c in provider.stream(body)]
        finally:
            await provider.aclose()
    assert response["choices"][0]["finish_reason"] == "stop"
    assert response["choices"][0]["message"]["reasoning"]
    assert [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")] == ["stop"]
    assert any("reasoning" in ch["delta"] for c in chunks for ch in c["choices"])


async def test_dedicated_only_model_is_a_model_failure():
    model = "deepseek-ai/DeepSeek-R1"
    async with FakeUpstream() as fake:
        fake.set(model, "model_not_available")
        env = {"TOGETHER_API_KEY": "k", "TOGETHER_BASE_URL": fake.base_url("together")}
        provider = TogetherProvider(Settings.from_env(env))
        try:
            with pytest.raises(ModelUnavailable) as info:
                await provider.chat({"model": model, "messages": [{"role": "user", "content": "hi"}]})
        finally:
            await provider.aclose()
    assert info.value.upstream_status == 400 and info.value.scope == "model"


async def test_non_serverless_wording_alone_is_a_model_failure():
    """The phrase without the ``model_not_available`` code (``model_missing_phrases``)."""
    model = "deepseek-ai/DeepSeek-R1"
    message = f"Unable to access non-serverless model {model}."
    async with FakeUpstream() as fake:
        fake.set(model, Behavior(kind="error", status=400, content=message))
        env = {"TOGETHER_API_KEY": "k", "TOGETHER_BASE_URL": fake.base_url("together")}
        provider = TogetherProvider(Settings.from_env(env))
        try:
            with pytest.raises(ModelUnavailable) as info:
                await provider.chat({"model": model, "messages": [{"role": "user", "content": "hi"}]})
        finally:
            await provider.aclose()
    assert info.value.upstream_status == 400 and "non-serverless" in info.value.message


def test_parse_models_bare_array():
    payload = [
        {"id": "openai/gpt-oss-120b", "object": "model", "type": "chat", "display_name": "GPT OSS 120B",
         "context_length": 131072, "pricing": {"hourly": 0, "input": 0.15, "output": 0.6, "base": 0}},
        {"id": "BAAI/bge-large-en-v1.5", "type": "embedding", "pricing": {"input": 0.02, "output": 0}},
        {"id": "black-forest-labs/FLUX.1-schnell", "type": "image"},
        {"id": "Salesforce/Llama-Rank-V1", "type": "rerank"},
    ]
    gpt, *others = TogetherProvider(Settings.from_env({})).parse_models(payload)
    assert (gpt.display_name, gpt.context_window, gpt.input_price, gpt.output_price, gpt.chat) == (
        "GPT OSS 120B", 131072, 0.15, 0.6, True)
    assert not any(m.chat for m in others)
