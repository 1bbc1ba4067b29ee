"""``normalize_model_id``: properties, the Synthetic table, and cross-provider links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from synaxis_core.catalog.normalize import NOISE_SUFFIXES, normalize_model_id

FIXTURES = Path(__file__).parent / "fixtures"
OLD_FIXTURE = FIXTURES / "modelsdev_api_subset_2026-06-23.json"
NEW_FIXTURE = FIXTURES / "modelsdev_api_subset.json"

# provider-model id, Synthetic upstream id, the global (models.dev-derived) id
SYNTHETIC_MODELS = [
    ("deepseek-r1-0528-syn", "hf:deepseek-ai/DeepSeek-R1-0528", "deepseek-r1-0528"),
    ("kimi-k2-thinking-syn", "hf:moonshotai/Kimi-K2-Thinking", "kimi-k2-thinking"),
    ("qwen3-235b-thinking-syn", "hf:Qwen/Qwen3-235B-A22B-Thinking-2507", "qwen3-235b-a22b-thinking-2507"),
    ("deepseek-v3-0324-syn", "hf:deepseek-ai/DeepSeek-V3-0324", "deepseek-v3-0324"),
    ("deepseek-v3.1-terminus-syn", "hf:deepseek-ai/DeepSeek-V3.1-Terminus", "deepseek-v3.1-terminus"),
    ("deepseek-v3.2-syn", "hf:deepseek-ai/DeepSeek-V3.2", "deepseek-v3.2"),
    ("minimax-m2-syn", "hf:MiniMaxAI/MiniMax-M2", "minimax-m2"),
    ("minimax-m2.1-syn", "hf:MiniMaxAI/MiniMax-M2.1", "minimax-m2.1"),
    ("kimi-k2.5-syn", "hf:moonshotai/Kimi-K2.5", "kimi-k2.5"),
    ("glm-4.6-syn", "hf:zai-org/GLM-4.6", "glm-4.6"),
    ("glm-4.7-syn", "hf:zai-org/GLM-4.7", "glm-4.7"),
    ("qwen3-coder-480b-syn", "hf:Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder-480b-a35b-instruct"),
    ("gpt-oss-120b-syn", "hf:openai/gpt-oss-120b", "gpt-oss-120b"),
    ("qwen3-235b-instruct-syn", "hf:Qwen/Qwen3-235B-A22B-Instruct-2507", "qwen3-235b-a22b-instruct-2507"),
]

n = normalize_model_id


def _models(path: Path, provider: str) -> dict:
    return json.loads(path.read_text())[provider]["models"]


id_alphabet = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/: ")
realistic_ids = st.one_of(
    st.text(id_alphabet, min_size=1, max_size=40),
    st.builds(
        lambda scheme, org, stem, suffix: f"{scheme}{org}/{stem}{suffix}",
        st.sampled_from(["", "hf:", "syn:", "HF:"]),
        st.sampled_from(["deepseek-ai", "openai", "Qwen", "meta-llama", "nvidia", "zai-org", "a/b"]),
        st.text(id_alphabet, min_size=1, max_size=25),
        st.sampled_from(["", "-FP8", "-fp8-tput", "_1", "-v3-1", "-0528", "-Instruct", " 2"]),
    ),
)
any_ids = st.one_of(realistic_ids, st.text(min_size=1, max_size=40))


@given(any_ids)
@example("hf:hf:x")
@example("hf:-hf:x")
@example("v3__1")
@example("meta-llama-fp8")
@example("x-fp8-fp8")
@example("hf:")
@example("/")
@example("İ")
def test_idempotent(model_id: str) -> None:
    if not model_id.strip():
        return
    once = n(model_id)
    assert n(once) == once


@given(any_ids)
def test_pure_and_never_empty(model_id: str) -> None:
    if not model_id.strip():
        with pytest.raises(ValueError):
            n(model_id)
        return
    first = n(model_id)
    assert first == n(model_id) == n(str(model_id))
    assert first


@given(realistic_ids)
def test_output_is_canonical(model_id: str) -> None:
    """No upper case, underscores, whitespace or scheme prefix survive (unless nothing else would)."""
    if not model_id.strip():
        return
    out = n(model_id)
    if out == model_id.strip().lower():  # the "nothing left" fallback
        return
    assert out == out.lower()
    assert "_" not in out and " " not in out and "/" not in out
    assert not out.startswith(("hf:", "syn:", "-")) and not out.endswith("-")


@pytest.mark.parametrize("model_id", ["", " ", "\t\n"])
def test_blank_is_an_error(model_id: str) -> None:
    with pytest.raises(ValueError):
        n(model_id)


@pytest.mark.parametrize(("provider_model_id", "upstream_id", "global_id"), SYNTHETIC_MODELS)
def test_synthetic_models_map_to_their_global_ids(provider_model_id: str, upstream_id: str, global_id: str) -> None:
    assert upstream_id in _models(OLD_FIXTURE, "synthetic"), f"{upstream_id} not in the 2026-06-23 fixture"
    assert n(upstream_id) == global_id


def test_synthetic_global_ids_are_distinct() -> None:
    assert len({g for _, _, g in SYNTHETIC_MODELS}) == len(SYNTHETIC_MODELS)


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("hf:deepseek-ai/DeepSeek-R1-0528", "deepseek-r1-0528"),
        ("openai/gpt-oss-120b", "gpt-oss-120b"),
        ("hf:openai/gpt-oss-120b", "gpt-oss-120b"),
        ("hf:moonshotai/Kimi-K2-Thinking", "kimi-k2-thinking"),
        ("hf:zai-org/GLM-4.6", "glm-4.6"),
        ("syn:glm-4.6", "glm-4.6"),
        ("llama-3_1", "llama-3.1"),
        ("llama-3.1", "llama-3.1"),
        ("abacusai/dracarys-llama-3_1-70b-instruct", "dracarys-llama-3.1-70b-instruct"),
        ("upstage/solar-10_7b-instruct", "solar-10.7b-instruct"),
        ("GPT OSS 120B", "gpt-oss-120b"),
        ("some_model__name", "some-model-name"),
        ("deepseek-ai/DeepSeek-V3-1", "deepseek-v3.1"),
        ("deepcogito/cogito-v2-1-671b", "cogito-v2.1-671b"),
        ("Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "qwen3-coder-480b-a35b-instruct"),
        ("Qwen/Qwen3-235B-A22B-Instruct-2507-tput", "qwen3-235b-a22b-instruct-2507"),
        ("hf:nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4", "nemotron-3-super-120b-a12b"),
        ("meta-llama/Meta-Llama-3-8B-Instruct-Lite", "llama-3-8b-instruct-lite"),
        ("hf:meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", "llama-4-maverick-17b-128e-instruct"),
    ],
)
def test_examples(model_id: str, expected: str) -> None:
    assert n(model_id) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hf:deepseek-ai/DeepSeek-V3", "hf:deepseek-ai/DeepSeek-V3-0324"),
        ("hf:deepseek-ai/DeepSeek-V3.1", "hf:deepseek-ai/DeepSeek-V3.1-Terminus"),
        ("hf:deepseek-ai/DeepSeek-R1", "hf:deepseek-ai/DeepSeek-R1-0528"),
        ("hf:Qwen/Qwen3-235B-A22B-Instruct-2507", "hf:Qwen/Qwen3-235B-A22B-Thinking-2507"),
        ("hf:moonshotai/Kimi-K2-Thinking", "hf:moonshotai/Kimi-K2-Instruct-0905"),
        ("hf:MiniMaxAI/MiniMax-M2", "hf:MiniMaxAI/MiniMax-M2.1"),
        ("hf:zai-org/GLM-4.7", "hf:zai-org/GLM-4.7-Flash"),
        ("gpt-4", "gpt-4-turbo"),
        ("meta/llama-3.1-8b", "meta/llama-3.1-8b-instruct"),
        ("thudm/glm-4-9b", "glm-4.9b"),
        ("openai/gpt-oss-120b", "openai/gpt-oss-20b"),
    ],
)
def test_different_models_stay_apart(a: str, b: str) -> None:
    assert n(a) != n(b)


@pytest.mark.parametrize("fixture", [OLD_FIXTURE, NEW_FIXTURE])
def test_gpt_oss_links_across_providers(fixture: Path) -> None:
    synthetic = "hf:openai/gpt-oss-120b"
    assert synthetic in _models(fixture, "synthetic")
    for provider in ("togetherai", "nvidia"):
        assert "openai/gpt-oss-120b" in _models(fixture, provider)
        assert n("openai/gpt-oss-120b") == n(synthetic) == "gpt-oss-120b"


def test_synthetic_models_link_to_other_providers() -> None:
    """Where Together or NVIDIA list one of the 14 models, it lands on the same global id."""
    others = {
        n(model_id): f"{provider}:{model_id}"
        for fixture in (OLD_FIXTURE, NEW_FIXTURE)
        for provider in ("togetherai", "nvidia")
        for model_id in _models(fixture, provider)
    }
    linked = {g for _, _, g in SYNTHETIC_MODELS if g in others}
    assert linked == {"gpt-oss-120b", "qwen3-coder-480b-a35b-instruct", "qwen3-235b-a22b-instruct-2507", "kimi-k2.5"}


def test_noise_suffixes_are_stripped_only_at_the_end() -> None:
    for suffix in NOISE_SUFFIXES:
        assert n(f"org/model-x-{suffix.upper()}") == "model-x"
        assert n(f"org/{suffix}-model") == f"{suffix}-model"
    assert n("fp8") == "fp8"
