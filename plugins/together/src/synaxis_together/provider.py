"""``TogetherProvider``: Together AI's OpenAI-compatible API.

Quirks handled here: ``finish_reason: "eos"`` means ``"stop"`` (answers and stream
chunks); ``GET /models`` is a bare JSON array whose entries carry a ``type`` (only
``chat``-capable types are chat models: ``VendorProvider`` reads it) and prices per
million tokens. Reasoning comes in a ``reasoning`` field, left for the think-tag
post-processor, which reads both names. Dedicated-only models answer 400
``model_not_available`` ("Unable to access non-serverless model"): ``ModelUnavailable``,
a model failure, not a provider failure (the code is understood by the core; the phrase
is ``model_missing_phrases``). ``TOGETHER_API_KEY``, ``TOGETHER_BASE_URL`` and the
static models (``models.TOGETHER_MODELS``) follow from the name.
"""

from __future__ import annotations

from synaxis_core.providers.plugin import VendorProvider


class TogetherProvider(VendorProvider):
    """api.together.xyz: the current serverless chat models from models.dev."""

    name = "together"
    default_base_url = "https://api.together.xyz/v1"
    catalog_provider = "togetherai"
    listing_prices = "per_million"
    finish_reasons = {"eos": "stop"}
    model_missing_phrases = ("non-serverless model",)
