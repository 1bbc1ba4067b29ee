"""Synthetic's static catalog, its /models parsing and its post-processors."""

from __future__ import annotations

import pytest
import synaxis_synthetic
from synaxis_synthetic import SYNTHETIC_MODELS, SyntheticProvider

from synaxis_core.catalog.normalize import normalize_model_id
from synaxis_core.errors import ConfigError, ModelUnavailable
from synaxis_core.plugins import collect_extensions
from synaxis_core.postprocess.base import PostProcessContext
from synaxis_core.postprocess.pipeline import select
from synaxis_core.settings import Settings
from synaxis_core.testing.plugin_manager import make_plugin_manager
from synaxis_core.types import ModelSpec

EXPECTED = {
    "deepseek-r1-0528-syn": "hf:deepseek-ai/DeepSeek-R1-0528",
    "kimi-k2-thinking-syn": "hf:moonshotai/Kimi-K2-Thinking",
    "qwen3-235b-thinking-syn": "hf:Qwen/Qwen3-235B-A22B-Thinking-2507",
    "deepseek-v3-0324-syn": "hf:deepseek-ai/DeepSeek-V3-0324",
    "deepseek-v3.1-terminus-syn": "hf:deepseek-ai/DeepSeek-V3.1-Terminus",
    "deepseek-v3.2-syn": "hf:deepseek-ai/DeepSeek-V3.2",
    "minimax-m2-syn": "hf:MiniMaxAI/MiniMax-M2",
    "minimax-m2.1-syn": "hf:MiniMaxAI/MiniMax-M2.1",
    "kimi-k2.5-syn": "hf:moonshotai/Kimi-K2.5",
    "glm-4.6-syn": "hf:zai-org/GLM-4.6",
    "glm-4.7-syn": "hf:zai-org/GLM-4.7",
    "qwen3-coder-480b-syn": "hf:Qwen/Qwen3-Coder-480B-A35B-Instruct",
    "gpt-oss-120b-syn": "hf:openai/gpt-oss-120b",
    "qwen3-235b-instruct-syn": "hf:Qwen/Qwen3-235B-A22B-Instruct-2507",
}
PREMIUM = {"deepseek-r1-0528-syn", "kimi-k2-thinking-syn", "qwen3-235b-thinking-syn"}


def test_exactly_the_fourteen_models():
    assert len(SYNTHETIC_MODELS) == 14
    assert {m.id: m.upstream_id for m in SYNTHETIC_MODELS} == EXPECTED
    assert all(m.display_name and m.global_id for m in SYNTHETIC_MODELS)
    assert all(m.context_window and m.input_price is not None for m in SYNTHETIC_MODELS)


def test_three_premium_reasoning_models():
    assert {m.id for m in SYNTHETIC_MODELS if m.is_premium} == PREMIUM
    assert all(m.reasoning for m in SYNTHETIC_MODELS if m.is_premium)


def test_global_ids_are_normalised():
    for spec in SYNTHETIC_MODELS:
        assert spec.global_id == normalize_model_id(spec.upstream_id)
    assert {m.id: m.global_id for m in SYNTHETIC_MODELS}["gpt-oss-120b-syn"] == "gpt-oss-120b"


def test_provider_defaults():
    provider = SyntheticProvider(Settings.from_env({}))
    assert provider.base_url == "https://api.synthetic.new/openai/v1"
    assert provider.missing_key == "SYNTHETIC_API_KEY"
    assert provider.catalog_provider == "synthetic"
    assert provider.models == SYNTHETIC_MODELS


def test_parse_models_dollar_per_token_prices():
    payload = {
        "data": [
            {"id": "hf:zai-org/GLM-4.7", "name": "GLM 4.7", "provider": "fireworks", "context_length": 202752,
             "max_output_length": 65536, "supported_features": ["reasoning", "tools"],
             "pricing": {"prompt": "$0.00000055", "completion": "$0.00000219"}},
            {"id": "hf:nomic-ai/nomic-embed-text-v1.5", "pricing": {"prompt": "$0"}},
            {"id": "syn:large", "pricing": {"prompt": "n/a"}},
        ]
    }
    glm, embed, alias = SyntheticProvider(Settings.from_env({})).parse_models(payload)
    assert (glm.upstream_id, glm.display_name, glm.context_window, glm.max_output) == (
        "hf:zai-org/GLM-4.7", "GLM 4.7", 202752, 65536)
    assert glm.input_price == pytest.approx(0.55) and glm.output_price == pytest.approx(2.19)
    assert glm.chat and not embed.chat
    assert alias.chat and alias.input_price is None


def _postprocessors(environ: dict[str, str] | None = None):
    ext = collect_extensions(make_plugin_manager(synaxis_synthetic), Settings.from_env(environ or {}))
    return {p.name: p for p in ext.postprocessors}


def test_postprocessors_registered():
    found = _postprocessors()
    assert {"think-tags-synthetic", "language-monitor"} <= set(found)
    stripper, monitor = found["think-tags-synthetic"], found["language-monitor"]
    by_id = {m.id: m for m in SYNTHETIC_MODELS}
    assert all(stripper.applies_to(by_id[i]) for i in PREMIUM | {"minimax-m2-syn", "glm-4.7-syn"})
    assert not stripper.applies_to(by_id["qwen3-coder-480b-syn"])
    assert stripper.is_close_only(by_id["qwen3-235b-thinking-syn"])
    assert not stripper.is_close_only(by_id["deepseek-r1-0528-syn"])
    assert monitor.applies_to(by_id["glm-4.7-syn"]) and not monitor.applies_to(by_id["minimax-m2-syn"])


def test_the_stripper_is_scoped_to_synthetic_whatever_the_ids():
    stripper = _postprocessors()["think-tags-synthetic"]
    elsewhere = ModelSpec(id="glm-4.7-syn", upstream_id="zai-org/GLM-4.7", reasoning=True)
    assert select([stripper], elsewhere, "together") == []
    assert select([stripper], elsewhere, "synthetic") == [stripper]
    renamed = ModelSpec(id="r1-custom", upstream_id="hf:deepseek-ai/DeepSeek-R1-0528", reasoning=True)
    assert select([stripper], renamed, "synthetic") == [stripper]  # no reliance on the "-syn" suffix


@pytest.mark.parametrize(
    ("value", "watched", "ignored"),
    [
        (None, "glm-4.7-syn", "minimax-m2-syn"),
        ('["minimax"]', "minimax-m2-syn", "glm-4.7-syn"),
        ("[]", None, "glm-4.7-syn"),
    ],
)
def test_language_monitor_models_come_from_its_variable(value, watched, ignored):
    environ = {} if value is None else {"SYNAXIS_LANGUAGE_MONITOR_MODELS": value}
    monitor = _postprocessors(environ)["language-monitor"]
    by_id = {m.id: m for m in SYNTHETIC_MODELS}
    assert watched is None or monitor.applies_to(by_id[watched])
    assert not monitor.applies_to(by_id[ignored])


@pytest.mark.parametrize("value", ["glm", '{"glm": 1}', "[1]"])
def test_a_malformed_language_monitor_variable_stops_startup(value):
    with pytest.raises(ConfigError, match="SYNAXIS_LANGUAGE_MONITOR_MODELS must be a JSON list of strings"):
        _postprocessors({"SYNAXIS_LANGUAGE_MONITOR_MODELS": value})


async def test_an_unprefixed_id_is_a_model_failure_not_a_bad_request():
    from synaxis_core.testing import FakeUpstream
    from synaxis_synthetic import SYNTHETIC_FLAVOR

    body = {"model": "openai/gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}
    async with FakeUpstream(flavors=[SYNTHETIC_FLAVOR]) as fake:
        env = {"SYNTHETIC_API_KEY": "k", "SYNTHETIC_BASE_URL": fake.base_url("synthetic")}
        provider = SyntheticProvider(Settings.from_env(env))
        try:
            with pytest.raises(ModelUnavailable) as info:
                await provider.chat(body)
        finally:
            await provider.aclose()
    assert info.value.upstream_status == 400 and info.value.scope == "model"
    assert "should start with an hf: prefix" in info.value.message


def test_close_only_stripper_on_qwen_thinking():
    stripper = _postprocessors()["think-tags-synthetic"]
    spec = {m.id: m for m in SYNTHETIC_MODELS}["qwen3-235b-thinking-syn"]
    message = stripper.process_message(
        {"role": "assistant", "content": "let me think</think>{\"a\": 1}"}, PostProcessContext(model=spec)
    )
    assert message["content"] == '{"a": 1}' and message["reasoning_content"] == "let me think"


async def test_subscription_cap_gets_the_longest_cool_down():
    from synaxis_core.errors import RateLimited
    from synaxis_core.testing import Behavior, FakeUpstream

    model = "hf:zai-org/GLM-4.7"
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with FakeUpstream() as fake:
        env = {"SYNTHETIC_API_KEY": "k", "SYNTHETIC_BASE_URL": fake.base_url("synthetic"),
               "SYNAXIS_RETRY_AFTER_CAP_S": "120"}
        provider = SyntheticProvider(Settings.from_env(env))
        try:
            fake.set(model, "rate_limit")
            with pytest.raises(RateLimited) as capped:
                await provider.chat(body)
            fake.set(model, Behavior(kind="rate_limit", retry_after="5", content="Too many requests"))
            with pytest.raises(RateLimited) as plain:
                await provider.chat(body)
        finally:
            await provider.aclose()
    assert capped.value.retry_after == 120 and capped.value.scope == "provider"
    assert plain.value.retry_after == 5 and plain.value.scope == "model"
