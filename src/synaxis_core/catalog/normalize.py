"""Model-id normalisation: the one function that links provider models to global models.

The same model is spelled differently by every provider and catalog:
``hf:deepseek-ai/DeepSeek-R1-0528`` (Synthetic), ``deepseek-ai/DeepSeek-R1-0528``
(Together), ``deepseek-ai/deepseek-r1-0528`` (NVIDIA). ``normalize_model_id`` maps all
of them to one global id, ``deepseek-r1-0528``, and is the only place that knows how.
"""

from __future__ import annotations

import re

__all__ = ["NOISE_SUFFIXES", "normalize_model_id"]

NOISE_SUFFIXES: tuple[str, ...] = (
    # numeric formats and quantisations of the same weights
    "fp4", "fp8", "fp16", "bf16", "nvfp4", "mxfp4", "int4", "int8",
    "w4a16", "w8a8", "awq", "gptq", "gguf",
    # Together AI's throughput-tier deployment of the same model
    "tput",
)
"""Trailing ``-<suffix>`` tags that name *how* a model is served, not *which* model it is."""

_SCHEME_PREFIX = re.compile(r"^(?:[\s_-]*(?:hf|syn):)+")
_DIGIT_UNDERSCORE_DIGIT = re.compile(r"([0-9])_(?=[0-9])")
_SEPARATORS = re.compile(r"[\s_]+")
_HYPHEN_RUN = re.compile(r"-{2,}")
_BRAND_PREFIX = re.compile(r"^(?:meta-(?=llama)|nvidia-(?=nemotron))")
_HYPHENATED_VERSION = re.compile(r"(?<![a-z0-9])v([0-9]+)-([0-9])(?=-|\Z)")
_NOISE_SUFFIX = re.compile(r"-(?:" + "|".join(NOISE_SUFFIXES) + r")\Z")


def normalize_model_id(model_id: str) -> str:
    """Return the global id of a provider's or a catalog's model id.

    The rules, applied in this order:

    1. Trim surrounding whitespace and lower-case: ``GLM-4.6`` -> ``glm-4.6``.
    2. Keep the last ``/`` segment (drops the organisation and any path):
       ``deepseek-ai/DeepSeek-R1-0528`` -> ``deepseek-r1-0528``.
    3. Drop leading ``hf:`` / ``syn:`` scheme prefixes (Synthetic's id schemes).
    4. An underscore between two digits is a version dot (NVIDIA spells dots that way):
       ``llama-3_1-70b`` -> ``llama-3.1-70b``, ``solar-10_7b`` -> ``solar-10.7b``.
    5. Every other run of underscores and whitespace becomes one ``-``; runs of ``-``
       collapse to one and leading or trailing ``-`` go: ``GPT OSS 120B`` -> ``gpt-oss-120b``.
    6. Drop a vendor brand repeated in front of a family name: ``meta-llama...`` ->
       ``llama...``, ``nvidia-nemotron...`` -> ``nemotron...`` (only these two pairs).
    7. A hyphenated version after an explicit ``v`` is a dotted version when the minor
       part is one digit: ``deepseek-v3-1`` -> ``deepseek-v3.1``,
       ``cogito-v2-1-671b`` -> ``cogito-v2.1-671b``. Dates stay: ``deepseek-v3-0324``.
    8. Strip trailing serving tags (``NOISE_SUFFIXES``: ``-fp8``, ``-nvfp4``, ``-awq``,
       ``-tput``, ...), repeatedly: ``Qwen3-Coder-480B-A35B-Instruct-FP8`` ->
       ``qwen3-coder-480b-a35b-instruct``.

    Never stripped, because they name a different model: date or snapshot suffixes
    (``-0324``, ``-2507``), ``-instruct`` / ``-it`` / ``-thinking`` / ``-base``,
    ``-turbo`` / ``-lite`` / ``-mini`` / ``-flash`` / ``-preview`` / ``-latest``, and any
    ``:tag`` other than the scheme prefixes. ``DeepSeek-V3`` and ``DeepSeek-V3-0324``,
    ``...-Instruct-2507`` and ``...-Thinking-2507`` stay distinct.

    The function is pure and idempotent (``n(n(x)) == n(x)``). When the rules leave
    nothing (``"hf:"``, ``"/"``), the trimmed, lower-cased id is returned as it is, so
    the result is never empty.

    :param model_id: any model id: ``hf:org/Model``, ``org/Model``, ``Model``, a name.
    :raises ValueError: ``model_id`` is empty or only whitespace.
    """
    base = model_id.strip().lower()
    if not base:
        raise ValueError("a model id must not be blank")
    segments = [part.strip() for part in base.split("/") if part.strip()]
    s = segments[-1] if segments else base
    s = _SCHEME_PREFIX.sub("", s)
    s = _DIGIT_UNDERSCORE_DIGIT.sub(r"\1.", s)
    s = _SEPARATORS.sub("-", s)
    s = _HYPHEN_RUN.sub("-", s).strip("-")
    s = _BRAND_PREFIX.sub("", s)
    s = _HYPHENATED_VERSION.sub(r"v\1.\2", s)
    while True:
        stripped = _NOISE_SUFFIX.sub("", s)
        if stripped == s:
            break
        s = stripped
    return s or base
