"""``SyntheticProvider``: Synthetic's OpenAI-compatible API (``hf:`` model ids).

Quirks handled here: ``GET /models`` answers ``{"data": [...]}`` (no ``object``) with
per-token prices as dollar strings (``"$0.00000055"`` = $0.55 per million tokens); a
429 "exceeded your subscription rate limits" is an account cap (no Retry-After), so
it gets the longest cool-down.
Errors are a flat ``{"error": "..."}`` string (read by the core's error mapping); a 400
"should start with an hf: prefix" means this provider cannot serve the id (a model
failure, ``model_missing_phrases``); reasoning arrives inline in ``<think>`` tags or in
``reasoning_content`` (left to the think-tag post-processor).
"""

from __future__ import annotations

from typing import Any, Mapping

from synaxis_core.errors import RateLimited, UpstreamError
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.providers.discovery import (
    generic_entry,
    looks_like_chat_model,
    per_token,
)
from synaxis_core.types import DiscoveredModel, ModelSpec
from synaxis_synthetic.models import SYNTHETIC_MODELS

THINK_TAG_MODELS = frozenset(
    {
        "minimax-m2-syn",
        "minimax-m2.1-syn",
        "kimi-k2.5-syn",
        "glm-4.6-syn",
        "glm-4.7-syn",
        "deepseek-v3.1-terminus-syn",
        "deepseek-v3.2-syn",
    }
)
"""Hybrid models that may put reasoning inline in ``<think>`` tags besides the three
reasoning (premium) models."""


def emits_think_tags(spec: ModelSpec) -> bool:
    """A deployment whose content may carry ``<think>`` reasoning (the stripper that
    asks is scoped to this provider)."""
    return spec.reasoning or spec.id in THINK_TAG_MODELS


class SyntheticProvider(OpenAICompatibleProvider):
    """synthetic.new: 14 ``hf:`` models, the three reasoning ones premium."""

    name = "synthetic"
    default_base_url = "https://api.synthetic.new/openai/v1"
    api_key_env = "SYNTHETIC_API_KEY"
    base_url_env = "SYNTHETIC_BASE_URL"
    catalog_provider = "synthetic"
    static_models = SYNTHETIC_MODELS
    model_missing_phrases = ("should start with an hf:",)

    def normalize_error(self, error: UpstreamError) -> UpstreamError:
        """A 429 "subscription rate limits" is an account cap until renewal, not a
        per-minute limit: cool down for the longest allowed time, blame the provider."""
        error = super().normalize_error(error)
        if isinstance(error, RateLimited) and error.retry_after is None and "subscription" in error.message:
            error.retry_after = self.settings.retry_after_cap_s
            error.scope = "provider"
        return error

    def parse_model_entry(self, entry: Mapping[str, Any]) -> DiscoveredModel | None:
        """Synthetic's entry: per-token dollar-string prices, embeddings not chat."""
        model = generic_entry(entry)
        pricing = entry.get("pricing") if isinstance(entry.get("pricing"), Mapping) else {}
        modalities = entry.get("output_modalities")
        chat = looks_like_chat_model(model.upstream_id) and (
            not isinstance(modalities, list) or "text" in modalities
        )
        return DiscoveredModel(
            upstream_id=model.upstream_id,
            display_name=model.display_name,
            context_window=model.context_window,
            max_output=model.max_output,
            input_price=per_token(pricing.get("prompt", pricing.get("input"))),
            output_price=per_token(pricing.get("completion", pricing.get("output"))),
            chat=chat,
        )
