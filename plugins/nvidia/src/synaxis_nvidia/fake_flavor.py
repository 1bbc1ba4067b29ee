"""NVIDIA NIM's wire format for the fake upstream (demo mode, the conformance kit).

Errors are problem JSON (``{"status", "title", "detail"}``; a bare one for a 429); an
unknown model is 404 "Function '<id>': Not found for account", a retired one 410.
``GET /models`` is the standard list, answers without a key and also lists non-chat
models (`NON_CHAT_MODELS`). Plain answers carry ``"reasoning_content": null``.
"""

from __future__ import annotations

from synaxis_core.fake import ErrorText, Flavor

NON_CHAT_MODELS = (
    "nvidia/nv-embedqa-e5-v5",  # embedding
    "black-forest-labs/flux.1-dev",  # image
    "nvidia/llama-3.2-nv-rerankqa-1b-v2",  # rerank
    "nvidia/parakeet-ctc-1.1b-asr",  # speech
)
"""Listed by the fake's ``/models`` on top of the added models, to test filtering."""

NVIDIA_FLAVOR = Flavor(
    name="nvidia",
    error_shape="problem",
    unauthorized="Authentication failed",
    rate_limit=ErrorText(),
    model_missing=ErrorText(message="Function '{model}': Not found for account", status=404),
    model_gone="Model '{model}' has reached its end of life",
    listing_extra_models=NON_CHAT_MODELS,
    listing_needs_key=False,
    null_reasoning=True,
)
