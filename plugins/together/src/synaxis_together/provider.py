"""``TogetherProvider``: Together AI's OpenAI-compatible API.

Quirks handled here: ``finish_reason: "eos"`` means ``"stop"`` (answers and stream
chunks); ``GET /models`` is a bare JSON array whose entries carry a ``type`` (only
``chat``-capable types are chat models) and prices per million tokens. Reasoning comes
in a ``reasoning`` field, left for the think-tag post-processor, which reads both
names. Dedicated-only models answer 400 ``model_not_available`` ("Unable to access
non-serverless model"): ``ModelUnavailable``, a model failure, not a provider failure
(the code is understood by the core; the phrase is ``model_missing_phrases``).
"""

from __future__ import annotations

from typing import Any, Mapping

from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.providers.discovery import generic_entry, per_million
from synaxis_core.types import DiscoveredModel, ModelSpec
from synaxis_together.models import TOGETHER_MODELS

NON_CHAT_TYPES = frozenset(
    {"embedding", "image", "rerank", "moderation", "audio", "transcribe", "tts", "stt", "video"}
)
"""Together ``/models`` types that cannot serve chat completions."""


def emits_reasoning(spec: ModelSpec) -> bool:
    """A reasoning deployment (``reasoning`` field or inline ``<think>``; the stripper
    that asks is scoped to this provider)."""
    return spec.reasoning


def _fix_finish_reasons(choices: Any) -> None:
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and choice.get("finish_reason") == "eos":
                choice["finish_reason"] = "stop"


class TogetherProvider(OpenAICompatibleProvider):
    """api.together.xyz: the current serverless chat models from models.dev."""

    name = "together"
    default_base_url = "https://api.together.xyz/v1"
    api_key_env = "TOGETHER_API_KEY"
    base_url_env = "TOGETHER_BASE_URL"
    catalog_provider = "togetherai"
    static_models = TOGETHER_MODELS
    model_missing_phrases = ("non-serverless model",)

    def normalize_response(self, data: dict[str, Any]) -> dict[str, Any]:
        """``finish_reason: "eos"`` -> ``"stop"``."""
        _fix_finish_reasons(data.get("choices"))
        return data

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """``finish_reason: "eos"`` -> ``"stop"`` in a stream chunk."""
        _fix_finish_reasons(chunk.get("choices"))
        return chunk

    def parse_model_entry(self, entry: Mapping[str, Any]) -> DiscoveredModel | None:
        """Together's entry: ``type`` says chat or not, prices per million tokens."""
        model = generic_entry(entry)
        pricing = entry.get("pricing") if isinstance(entry.get("pricing"), Mapping) else {}
        kind = entry.get("type")
        chat = model.chat and not (isinstance(kind, str) and kind.lower() in NON_CHAT_TYPES)
        return DiscoveredModel(
            upstream_id=model.upstream_id,
            display_name=model.display_name,
            context_window=model.context_window,
            max_output=model.max_output,
            input_price=per_million(pricing.get("input")),
            output_price=per_million(pricing.get("output")),
            chat=chat,
        )
