"""Parsing a provider's ``GET /models`` answer into ``DiscoveredModel``s.

Shapes seen in the wild: ``{"object": "list", "data": [...]}`` (OpenAI, NVIDIA),
``{"data": [...]}`` (Synthetic) and a bare JSON array (Together). Entries without a
string ``id`` are skipped; a top-level shape that is none of these raises ``ValueError``
(the provider turns it into ``UpstreamProtocolError``, so that a garbage answer never
marks every model unavailable).

Prices: ``per_million`` for numbers already in USD per million tokens (Together),
``per_token`` for per-token prices, possibly strings with a dollar sign (Synthetic's
``"$0.00000055"`` = $0.55 per million).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from synaxis_core.types import DiscoveredModel

NON_CHAT_PATTERN = re.compile(
    r"(?i)(embed|rerank|retriever|\bbge\b|bge-|\besm|whisper|\btts\b|-tts|\basr\b|parakeet|canary"
    r"|flux|stable-diffusion|sdxl|qwen-image|image-edit|cosmos-(predict|transfer)|video-detector|speaker-detection"
    r"|bevformer|sparsedrive|streampetr|studiovoice|magpie|gliner|usdvalidate|paligemma"
    r"|ocdrnet|grounding-dino|nv-dinov|nemoguard-jailbreak|alphafold|diffdock|proteinmpnn|rfdiffusion"
    r"|molmim|genmol|evo2|openfold|msa-search|vista-3d|maisi|nv-clip|\bclip\b|reward)"
)
"""Model ids that are not chat models (embedding, rerank, image, speech, video, biology)."""


EMBEDDING_PATTERN = re.compile(r"(?i)(embed|\bbge\b|bge-|\be5-)")
"""Model ids that name an embedding model (a deployment of ``kind="embedding"``)."""


def looks_like_embedding_model(model_id: str) -> bool:
    """True for ids that name a text-embedding model (``nv-embed-v1``, ``bge-m3``...)."""
    return EMBEDDING_PATTERN.search(model_id) is not None


def looks_like_chat_model(model_id: str) -> bool:
    """False for ids that name an embedding, rerank, image, speech or other non-chat model."""
    return NON_CHAT_PATTERN.search(model_id) is None


def as_int(value: Any) -> int | None:
    """A positive int from an int, a float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(float(value.strip()))
        except ValueError:
            return None
    else:
        return None
    return number if number > 0 else None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().lstrip("$").replace(",", "").strip()
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if number >= 0 and number == number else None


def per_million(value: Any) -> float | None:
    """A price already in USD per million tokens."""
    return _as_float(value)


def per_token(value: Any) -> float | None:
    """A per-token price (``0.00000055`` or ``"$0.00000055"``) as USD per million tokens."""
    number = _as_float(value)
    return None if number is None else round(number * 1_000_000, 6)


def model_entries(payload: Any) -> list[Mapping[str, Any]]:
    """The entries of a ``/models`` answer of any of the three shapes."""
    if isinstance(payload, Mapping) and isinstance(payload.get("data"), list):
        entries = payload["data"]
    elif isinstance(payload, list):
        entries = payload
    else:
        raise ValueError("the /models answer is neither a list nor an object with a 'data' list")
    return [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("id"), str) and e["id"]]


def generic_entry(entry: Mapping[str, Any]) -> DiscoveredModel:
    """An entry read with the usual field names; no prices (their unit varies)."""
    model_id = entry["id"]
    name = entry.get("display_name") or entry.get("name")
    return DiscoveredModel(
        upstream_id=model_id,
        display_name=name if isinstance(name, str) and name else None,
        context_window=as_int(
            entry.get("context_length") or entry.get("context_window") or entry.get("max_model_len")
        ),
        max_output=as_int(entry.get("max_output_length") or entry.get("max_output_tokens")),
        chat=looks_like_chat_model(model_id),
    )


def parse_model_list(
    payload: Any, parse_entry: Callable[[Mapping[str, Any]], DiscoveredModel | None]
) -> list[DiscoveredModel]:
    """Every entry of ``payload`` through ``parse_entry`` (None: skip the entry)."""
    models: list[DiscoveredModel] = []
    for entry in model_entries(payload):
        try:
            model = parse_entry(entry)
        except (KeyError, TypeError, ValueError):
            continue
        if model is not None:
            models.append(model)
    return models
