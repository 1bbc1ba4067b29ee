"""The fake upstream's ``POST /{flavor}/v1/embeddings``: deterministic vectors, no model.

Pure functions, no I/O. Each input (a text, or a token-id array) gets a unit vector seeded
by the SHA-256 of the input, so the same input always has the same vector and different
inputs differ: ``DEFAULT_DIMENSIONS`` numbers, or ``dimensions`` when the request sets it.
``encoding_format: "base64"`` answers each vector as OpenAI does: the little-endian float32
bytes, base64-encoded. ``usage.prompt_tokens`` counts words of texts and ids of arrays.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from .formats import count_words, encode

DEFAULT_DIMENSIONS = 8
MAX_DIMENSIONS = 4096


def _items(value: Any) -> list[str | list[int]] | None:
    """The separate inputs of an ``input`` field (None: not one of the four shapes)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [value]
        if all(isinstance(v, str) for v in value) or all(isinstance(v, list) for v in value):
            return list(value)
    return None


def vector(item: str | list[int], dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The unit vector of one input (a text or token ids), the same every time."""
    seed = hashlib.sha256(repr(item).encode()).digest()
    raw: list[float] = []
    counter = 0
    while len(raw) < dimensions:
        block = hashlib.sha256(seed + counter.to_bytes(4, "little")).digest()
        raw.extend(v / 2**31 - 1.0 for v in struct.unpack("<8I", block))
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in raw]  # float32 values


def as_base64(values: list[float]) -> str:
    """OpenAI's base64 form: the vector's little-endian float32 bytes."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def problem(body: dict[str, Any] | None) -> str | None:
    """Why the fake refuses a request (a 400), or None."""
    if body is None or not isinstance(body.get("model"), str):
        return "`model` and `input` are required"
    if _items(body.get("input")) is None:
        return "`input` must be a string, a list of strings, token ids or lists of token ids"
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or not 1 <= dims <= MAX_DIMENSIONS):
        return f"`dimensions` must be an integer from 1 to {MAX_DIMENSIONS}"
    if body.get("encoding_format") not in (None, "float", "base64"):
        return "`encoding_format` must be 'float' or 'base64'"
    return None


def embeddings_body(body: dict[str, Any], model: str) -> bytes:
    """The answer to a request ``problem`` found nothing wrong with."""
    items = _items(body["input"]) or []
    dims = body.get("dimensions") or DEFAULT_DIMENSIONS
    b64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(items):
        values = vector(item, dims)
        data.append({"object": "embedding", "index": index, "embedding": as_base64(values) if b64 else values})
    tokens = sum(len(item) if isinstance(item, list) else max(1, count_words(item)) for item in items)
    return encode({"object": "list", "data": data, "model": model,
                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
