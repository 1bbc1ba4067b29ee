"""Bodies and streams of ``kind="model"``, shaped like OpenAI's (pure, no I/O).

``n`` choices (index 0..n-1, streamed one after the other), ``logprobs`` /
``top_logprobs`` entries for the answer's tokens (``choices[i].logprobs.content``; not
for the inline reasoning, which a gateway moves out of the content), and the fields
OpenAI's published schema requires even when null: ``message.refusal`` and
``choices[i].logprobs``. Streams go token by token (`tokens`); ``usage`` counts the
same tokens.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from .chat import KEEP_ALIVE, StreamParts, usage
from .flavor import CREATED
from .formats import encode
from .model import Turn

MAX_N = 128
MAX_TOP_LOGPROBS = 20
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_ALTERNATIVES = (" the", ",", " a", ".", " and", " of", " to", " is", " in", "\n", " that", " it", " for",
                 " on", " with", " as", " was", " be", " at", " by", " or")
"""Alternatives offered in ``top_logprobs`` (the chosen token comes first)."""


def tokens(text: str | None) -> list[str]:
    """The tokens of ``text``: words with their leading spaces, single punctuation marks
    (joined, they give ``text`` back)."""
    return _TOKEN.findall(text) if text else []


def logprob(token: str) -> float:
    """A deterministic log probability in (-0.2, 0]."""
    return -(zlib.crc32(token.encode()) % 2000) / 10_000


def logprob_entry(token: str, top: int) -> dict[str, Any]:
    """One ``ChatCompletionTokenLogprob``, with ``top`` alternatives (the token first)."""
    value = logprob(token)
    others = [t for t in _ALTERNATIVES if t != token][: max(0, top - 1)]
    alternatives = [(token, value)] + [(t, round(value - 1.5 * (i + 1), 4)) for i, t in enumerate(others)]
    top_list = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives[:top]]
    return {"token": token, "logprob": value, "bytes": list(token.encode()), "top_logprobs": top_list}


def options(request: dict[str, Any]) -> tuple[int, int | None]:
    """``(n, top)``: the number of choices, and the ``top_logprobs`` count when
    ``logprobs`` is true (None: no logprobs)."""
    n = request.get("n")
    n = min(n, MAX_N) if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else 1
    if request.get("logprobs") is not True:
        return n, None
    top = request.get("top_logprobs")
    top = top if isinstance(top, int) and not isinstance(top, bool) else 0
    return n, min(max(top, 0), MAX_TOP_LOGPROBS)


def _inline(turn: Turn) -> str:
    return f"<think>{turn.reasoning}</think>" if turn.reasoning is not None else ""


def completion_tokens(turn: Turn, n: int) -> int:
    args = turn.tool_call["function"]["arguments"] if turn.tool_call else None
    return n * (len(tokens(_inline(turn))) + len(tokens(turn.content)) + len(tokens(args)))


def _logprobs(turn: Turn, top: int | None) -> dict[str, Any] | None:
    if top is None:
        return None
    return {"content": [logprob_entry(t, top) for t in tokens(turn.content)], "refusal": None}


def body(turn: Turn, request: dict[str, Any], completion_id: str, model: str, prompt: int) -> bytes:
    """A non-streamed ``chat.completion`` with ``n`` choices."""
    n, top = options(request)
    content = _inline(turn) + turn.content if turn.content is not None else (_inline(turn) or None)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if turn.null_reasoning:
        message["reasoning_content"] = None
    if turn.tool_call is not None:
        message["tool_calls"] = [turn.tool_call]
    logprobs = _logprobs(turn, top)
    choices = [
        {"index": i, "message": message, "logprobs": logprobs, "finish_reason": turn.finish_reason}
        for i in range(n)
    ]
    return encode({
        "id": completion_id, "object": "chat.completion", "created": CREATED, "model": model,
        "choices": choices, "usage": usage(prompt, completion_tokens(turn, n)),
    })


def stream(
    turn: Turn, request: dict[str, Any], completion_id: str, model: str, prompt: int, *, include_usage: bool
) -> StreamParts:
    """The SSE ``chat.completion.chunk`` lines: for each choice its role chunk, one chunk
    per token (reasoning, content or tool-call arguments), its finish chunk; then the
    usage chunk when asked for."""
    n, top = options(request)
    head = {"id": completion_id, "object": "chat.completion.chunk", "created": CREATED, "model": model}
    prefix = b"data: " + encode(head)[:-1] + b',"choices":[{"index":'
    usage_null = b',"usage":null' if include_usage else b""

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> bytes:
        rest = b',"delta":' + encode(delta) + b',"logprobs":' + encode(logprobs)
        return prefix + str(index).encode() + rest + b',"finish_reason":' + encode(finish) + b"}]" + usage_null + b"}\n\n"

    parts = StreamParts(head=[KEEP_ALIVE])
    call = turn.tool_call
    for i in range(n):
        role: dict[str, Any] = {"role": "assistant", "content": "" if call is None else None, "refusal": None}
        parts.body.append(chunk(i, role))
        parts.body += [chunk(i, {"content": t}) for t in tokens(_inline(turn))]
        for t in tokens(turn.content):
            entry = None if top is None else {"content": [logprob_entry(t, top)], "refusal": None}
            parts.body.append(chunk(i, {"content": t}, logprobs=entry))
        if call is not None:
            function = {"name": call["function"]["name"], "arguments": ""}
            first = {"index": 0, "id": call["id"], "type": "function", "function": function}
            parts.body.append(chunk(i, {"tool_calls": [first]}))
            for piece in tokens(call["function"]["arguments"]):
                parts.body.append(chunk(i, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        parts.body.append(chunk(i, {}, turn.finish_reason))
    if include_usage:
        last = {**head, "choices": [], "usage": usage(prompt, completion_tokens(turn, n))}
        parts.tail.append(b"data: " + encode(last) + b"\n\n")
    return parts
