"""``NvidiaProvider``: NVIDIA NIM's OpenAI-compatible API (integrate.api.nvidia.com).

Quirks: errors are problem JSON (``{"status", "title", "detail"}``, read by the core's
error mapping; 404 "Function ...: Not found for account" and 410 for retired models
are model failures). ``GET /models`` is the standard list, needs no key, has no prices
or context sizes and lists many non-chat models (embedding, rerank, image, speech):
those are marked ``chat=False`` by id and dropped by ``discover()``. ``NVIDIA_API_KEY``,
``NVIDIA_BASE_URL`` and the static models (``models.NVIDIA_MODELS``) follow from the name.
"""

from __future__ import annotations

from synaxis_core.providers.plugin import VendorProvider


class NvidiaProvider(VendorProvider):
    """NVIDIA NIM: the current chat and embedding models from models.dev (free tier ~40 requests/min)."""

    name = "nvidia"
    default_base_url = "https://integrate.api.nvidia.com/v1"
    discovery_needs_key = False
