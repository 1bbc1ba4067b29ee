"""``NvidiaProvider``: NVIDIA NIM's OpenAI-compatible API (integrate.api.nvidia.com).

Quirks: errors are problem JSON (``{"status", "title", "detail"}``, read by the core's
error mapping; 404 "Function ...: Not found for account" and 410 for retired models
are model failures). ``GET /models`` is the standard list, needs no key, has no prices
or context sizes and lists many non-chat models (embedding, rerank, image, speech):
those are marked ``chat=False`` by id and dropped by ``discover()``.
"""

from __future__ import annotations

from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.types import ModelSpec
from synaxis_nvidia.models import NVIDIA_MODELS


def emits_reasoning(spec: ModelSpec) -> bool:
    """A reasoning deployment (``reasoning_content`` or inline ``<think>``; the stripper
    that asks is scoped to this provider)."""
    return spec.reasoning


class NvidiaProvider(OpenAICompatibleProvider):
    """NVIDIA NIM: the current chat models from models.dev (free tier ~40 requests/min)."""

    name = "nvidia"
    default_base_url = "https://integrate.api.nvidia.com/v1"
    api_key_env = "NVIDIA_API_KEY"
    base_url_env = "NVIDIA_BASE_URL"
    catalog_provider = "nvidia"
    static_models = NVIDIA_MODELS
    discovery_needs_key = False
