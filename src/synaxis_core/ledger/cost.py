"""Cost and token estimates: the arithmetic of the ledger.

Prices are USD per million tokens, as everywhere in Synaxis. Token estimates are used
only when an upstream reports no ``usage``; they are a fast heuristic (about four
characters per token for English text and code), not a tokenizer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 3
"""Per message: role and separators (as in OpenAI's own counting recipe)."""
REPLY_PRIMER_TOKENS = 3
"""Once per prompt: the tokens that start the assistant's reply."""


def cost_usd(
    prompt_tokens: int,
    completion_tokens: int,
    input_price: float | None,
    output_price: float | None,
) -> float:
    """The cost of one request in USD, from prices per million tokens.

    A price of ``None`` (unknown: no catalog entry, a local deployment) counts as 0, so
    the request is recorded as free rather than failing; ``synaxis models`` shows which
    deployments have no price.
    """
    total = prompt_tokens * (input_price or 0.0) + completion_tokens * (output_price or 0.0)
    return total / 1_000_000


UNKNOWN_MAX_OUTPUT_TOKENS = 32_768
"""Output tokens assumed for a budget reservation when neither the request (``max_tokens``)
nor the deployment (``max_output``, ``context_window``) bounds them."""


def worst_case_cost(prompt_tokens: int, max_tokens: int | None, deployments: Iterable[Any]) -> float:
    """The most a request can cost on any of ``deployments`` (what a budget reserves).

    Per deployment (objects with ``input_price``, ``output_price``, ``max_output`` and
    ``context_window``, like ``ModelSpec``): ``prompt_tokens`` at its input price plus its
    output bound at its output price. The output bound is the smallest of ``max_tokens``,
    the deployment's ``max_output`` and what its context window leaves after the prompt;
    with none of them known, :data:`UNKNOWN_MAX_OUTPUT_TOKENS`.
    """
    worst = 0.0
    for spec in deployments:
        bounds = [b for b in (max_tokens, spec.max_output) if b is not None and b >= 0]
        if spec.context_window:
            bounds.append(max(spec.context_window - prompt_tokens, 0))
        output = min(bounds) if bounds else UNKNOWN_MAX_OUTPUT_TOKENS
        worst = max(worst, cost_usd(prompt_tokens, output, spec.input_price, spec.output_price))
    return worst


def output_chars(response: dict[str, Any]) -> int:
    """Characters of a chat completion's messages (for an estimate when it has no usage)."""
    return sum(len(str((c.get("message") or {}).get("content") or "")) for c in response.get("choices") or [])


def estimate_tokens(text: str) -> int:
    """About one token per four characters; at least 1 for non-empty text, 0 for empty."""
    return tokens_for_chars(len(text))


def tokens_for_chars(chars: int) -> int:
    """``estimate_tokens`` for a text of ``chars`` characters (no text needed)."""
    if chars <= 0:
        return 0
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def _message_text(message: dict[str, Any]) -> str:
    parts: list[str] = []
    content = message.get("content")
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
    if isinstance(message.get("name"), str):
        parts.append(message["name"])
    calls = message.get("tool_calls")  # passed through unchecked: anything may be here
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            parts.extend(v for v in (function.get("name"), function.get("arguments")) if isinstance(v, str))
    return " ".join(parts)


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Estimated prompt tokens of chat ``messages``.

    Counts string contents, text parts of list contents, names and tool-call names and
    arguments, plus ``MESSAGE_OVERHEAD_TOKENS`` per message and ``REPLY_PRIMER_TOKENS``
    once. Images and other non-text parts are not counted.
    """
    if not messages:
        return 0
    total = REPLY_PRIMER_TOKENS
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS
        if isinstance(message, dict):
            total += estimate_tokens(_message_text(message))
    return total
