"""The fixed upstream answers and the request the load generator sends.

The answer carries inline ``<think>...</think>`` reasoning and ``usage`` so that the
think-tag post-processor and the ledger do their real work.
"""

from __future__ import annotations

import json

MODEL = "bench-model"
"""The global id the load generator asks for (three deployments serve it)."""

REASONING = "The user wants a short greeting. Keep it brief and friendly."
ANSWER = "Hello! How can I help you today?"
USAGE = {"prompt_tokens": 12, "completion_tokens": 24, "total_tokens": 36}

COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench-upstream",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": f"<think>{REASONING}</think>{ANSWER}"},
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
}

_DELTAS = [
    {"role": "assistant", "content": ""},
    {"content": "<think>"},
    *({"content": t} for t in ("The", " user", " wants", " a short", " greeting.", " Keep", " it brief", " and",
                               " friendly.")),
    {"content": "</think>"},
    *({"content": t} for t in ("Hello!", " How", " can", " I", " help", " you", " today", "?")),
]
"""20 deltas: with the finish chunk, the usage chunk and ``[DONE]``, a stream of 23 events."""
assert "".join(d["content"] for d in _DELTAS) == f"<think>{REASONING}</think>{ANSWER}"


def _chunk(choices: list, **extra: object) -> dict:
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "bench-upstream", "choices": choices, **extra}


def sse_body() -> str:
    """The fixed stream: role, reasoning and answer deltas, finish, usage, ``[DONE]``."""
    chunks = [_chunk([{"index": 0, "delta": d, "finish_reason": None}]) for d in _DELTAS]
    chunks.append(_chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    chunks.append(_chunk([], usage=USAGE))
    events = [f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in chunks]
    return "".join(events) + "data: [DONE]\n\n"


def completion_body() -> str:
    return json.dumps(COMPLETION, separators=(",", ":"))


STREAM_EVENTS = len(_DELTAS) + 3


def request_body(stream: bool = False) -> str:
    body: dict = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":"))
