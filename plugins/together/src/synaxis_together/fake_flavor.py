"""Together AI's wire format for the fake upstream (demo mode, the conformance kit).

Errors are OpenAI-shaped; a 429 is ``dynamic_request_limited`` with ``x-ratelimit-*``
headers; a dedicated-only model answers 400 ``model_not_available`` ("non-serverless");
a 503 says the model is overloaded. ``GET /models`` is a bare JSON array whose entries
carry ``type``, ``display_name``, ``organization`` and prices per million tokens.
Answers finish with ``eos`` and put reasoning in a ``reasoning`` field.
"""

from __future__ import annotations

from typing import Any

from synaxis_core.fake import ErrorText, Flavor
from synaxis_core.fake.flavor import CREATED, owner_of, pop_prices

NON_SERVERLESS = (
    "Unable to access non-serverless model {model}. Please visit "
    "https://api.together.ai/models/{model} to create and start a new dedicated "
    "endpoint for the model."
)


def model_entry(model_id: str, extras: dict[str, Any]) -> dict[str, Any]:
    """One ``/models`` entry (type ``chat`` unless given); other extras verbatim."""
    inp, out = pop_prices(extras)
    entry = {
        "id": model_id,
        "object": "model",
        "created": extras.pop("created", CREATED),
        "type": extras.pop("type", "chat"),
        "display_name": extras.pop("display_name", model_id.rsplit("/", 1)[-1].replace("-", " ")),
        "organization": extras.pop("organization", owner_of(model_id, "together")),
        "context_length": extras.pop("context_length", 131072),
        "pricing": {"hourly": 0, "input": inp, "output": out, "base": 0, "finetune": 0},
    }
    entry.update(extras)
    return entry


TOGETHER_FLAVOR = Flavor(
    name="together",
    rate_limit=ErrorText(
        message="You have been rate limited. Please retry later.",
        code="dynamic_request_limited",
        type="rate_limit_exceeded",
    ),
    rate_limit_headers=True,
    model_missing=ErrorText(message=NON_SERVERLESS, code="model_not_available", status=400),
    error_messages={503: "The server is overloaded or not ready yet."},
    listing="array",
    model_entry=model_entry,
    finish_reason="eos",
    reasoning_field="reasoning",
)
