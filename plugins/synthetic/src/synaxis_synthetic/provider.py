"""``SyntheticProvider``: Synthetic's OpenAI-compatible API (``hf:`` model ids).

Quirks handled here: ``GET /models`` answers ``{"data": [...]}`` (no ``object``) with
per-token prices as dollar strings (``"$0.00000055"`` = $0.55 per million tokens;
``listing_prices``) and ``output_modalities`` (read by ``VendorProvider``); a 429
"exceeded your subscription rate limits" is an account cap (no Retry-After), so it gets
the longest cool-down. Errors are a flat ``{"error": "..."}`` string (read by the
core's error mapping); a 400 "should start with an hf: prefix" means this provider
cannot serve the id (a model failure, ``model_missing_phrases``); reasoning arrives
inline in ``<think>`` tags or in ``reasoning_content`` (left to the think-tag
post-processor). ``SYNTHETIC_API_KEY``, ``SYNTHETIC_BASE_URL`` and the static models
(``models.SYNTHETIC_MODELS``) follow from the name.
"""

from __future__ import annotations

from synaxis_core.errors import RateLimited, UpstreamError
from synaxis_core.providers.plugin import VendorProvider
from synaxis_core.types import ModelSpec

THINK_TAG_MODELS = frozenset({
    "minimax-m2-syn", "minimax-m2.1-syn", "kimi-k2.5-syn", "glm-4.6-syn", "glm-4.7-syn",
    "deepseek-v3.1-terminus-syn", "deepseek-v3.2-syn",
})
"""Hybrid models that may put reasoning inline in ``<think>`` tags besides the three
reasoning (premium) models."""


def emits_think_tags(spec: ModelSpec) -> bool:
    """A deployment whose content may carry ``<think>`` reasoning (the stripper that
    asks is scoped to this provider)."""
    return spec.reasoning or spec.id in THINK_TAG_MODELS


class SyntheticProvider(VendorProvider):
    """synthetic.new: 14 ``hf:`` models, the three reasoning ones premium."""

    name = "synthetic"
    default_base_url = "https://api.synthetic.new/openai/v1"
    listing_prices = "per_token"
    model_missing_phrases = ("should start with an hf:",)

    def normalize_error(self, error: UpstreamError) -> UpstreamError:
        """A 429 "subscription rate limits" is an account cap until renewal, not a
        per-minute limit: cool down for the longest allowed time, blame the provider."""
        error = super().normalize_error(error)
        if isinstance(error, RateLimited) and error.retry_after is None and "subscription" in error.message:
            error.retry_after, error.scope = self.settings.retry_after_cap_s, "provider"
        return error
