"""What ``synaxis validate`` asks every model and how it judges the answer (pure, no I/O).

The prompt asks for a JSON football prediction. An answer, streamed or not, passes when
each of these holds; the first one that does not is the reason it failed:

1. the gateway answered 200 (else its OpenAI error message, which names the upstream
   failure, e.g. ``"... (synthetic): 500"``), and a stream carried no error event and
   ended with ``[DONE]``;
2. the answer is not empty (once the reasoning is taken out of it);
3. no reasoning tag (``<think>``, ``</think>``, ``<thinking>``, ``<reasoning>``...) is
   left in ``content``;
4. the answer is in English: fewer than half of its letters are CJK (else exactly
   ``"non-English output"``). This comes before the JSON check because an answer in
   the wrong language rarely parses, and the language is the diagnosis that matters;
5. ``content`` is a JSON object (once a Markdown fence is removed, or the first
   ``{...}`` in it) with numeric ``home_goals``, ``away_goals`` and ``confidence``.

An embedding model is sent ``EMBEDDING_INPUT`` instead (``POST /v1/embeddings``, not
streamed): it passes with a 200 whose first ``embedding`` is a non-empty list of finite
numbers (the sample says how many).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from synaxis_core.postprocess.language import PROBLEM as NON_ENGLISH
from synaxis_core.postprocess.language import cjk_ratio

PROMPT = (
    "Predict the final score of tonight's football match between Arsenal (home) and "
    "Chelsea (away). Answer with only a JSON object, no other text, with exactly these "
    'keys: "home_goals" (integer), "away_goals" (integer) and "confidence" (a number '
    'between 0 and 1). Example: {"home_goals": 1, "away_goals": 0, "confidence": 0.5}'
)
MESSAGES = [{"role": "user", "content": PROMPT}]
EMBEDDING_INPUT = "Arsenal against Chelsea, tonight at the Emirates."
EXPECTED_KEYS = ("home_goals", "away_goals", "confidence")
CJK_LIMIT = 0.5
"""An answer whose letters are this share CJK or more is ``"non-English output"``."""

NOT_THE_MODELS_FAULT = frozenset({401, 403, 404, 429, 500, 503})
"""Gateway statuses that say nothing about the model: our key, a registry change, a rate
limit, the gateway's own internal error, a deployment or provider cooling down. The model
fails the run but stays enabled. (Upstream failures reach us as 502 or 504.)"""

_TAG = re.compile(r"</?(?:think|thinking|reasoning)>", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```[a-zA-Z]*[ \t]*\n?(.*?)\n?[ \t]*```\s*$", re.DOTALL)
_decoder = json.JSONDecoder()


@dataclass
class Answer:
    """One answer from the gateway, streamed or not, reduced to what the checks need."""

    status: int
    content: str | None = None
    reasoning: str = ""
    """The reasoning the gateway separated out (``reasoning_content``)."""
    error: str | None = None
    """The gateway's error message (a non-200 status or an in-stream error event)."""

    @property
    def text(self) -> str:
        """What to keep as a sample: the answer, else the error."""
        return self.content if self.content else (self.error or "")


@dataclass(frozen=True)
class Verdict:
    """Why an answer failed, and whether that is the model's fault (then it is disabled)."""

    reason: str
    model_fault: bool = True


def _error_message(body: Any, status: int) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(error, str):
        return error
    return f"the gateway answered HTTP {status}"


def _loads(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def parse_completion(status: int, body: bytes) -> Answer:
    """A non-streamed ``chat.completion`` (or an OpenAI error body)."""
    data = _loads(body)
    if status != 200:
        return Answer(status, error=_error_message(data, status))
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return Answer(status, error="the response has no choices")
    message = choices[0].get("message") or {}
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    return Answer(status, content if isinstance(content, str) else None, str(reasoning))


def parse_embedding(status: int, body: bytes) -> Answer:
    """A ``POST /v1/embeddings`` answer: ``content`` says the vector's size, ``error`` what is wrong."""
    data = _loads(body)
    if status != 200:
        return Answer(status, error=_error_message(data, status))
    items = data.get("data") if isinstance(data, dict) else None
    vector = items[0].get("embedding") if items and isinstance(items[0], dict) else None
    if not isinstance(vector, list) or not vector:
        return Answer(status, error="the response has no embedding")
    if not all(_is_number(x) and math.isfinite(x) for x in vector):
        return Answer(status, error="the embedding is not a list of finite numbers")
    return Answer(status, f"an embedding of {len(vector)} dimensions")


def parse_stream(status: int, body: bytes) -> Answer:
    """A whole SSE body: the ``data:`` lines of choice 0 put back together."""
    if status != 200:
        return Answer(status, error=_error_message(_loads(body), status))
    content: list[str] = []
    reasoning: list[str] = []
    done = False
    for line in body.decode("utf-8", "replace").splitlines():
        if not line.startswith("data:"):
            continue  # blank separators and ": keep-alive" comments
        payload = line[5:].strip()
        if payload == "[DONE]":
            done = True
            break
        chunk = _loads(payload)
        if not isinstance(chunk, dict):
            return Answer(status, error=f"a stream event is not JSON: {payload[:80]!r}")
        if "error" in chunk:
            return Answer(status, "".join(content) or None, "".join(reasoning), _error_message(chunk, status))
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                delta = choice.get("delta") or {}
                content.append(delta.get("content") or "")
                reasoning.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
    answer = Answer(status, "".join(content) or None, "".join(reasoning))
    if not done:
        answer.error = "the stream ended without [DONE]"
    return answer


def extract_json(text: str) -> Any:
    """The JSON in ``text``: all of it, inside a Markdown fence, or its first ``{...}``."""
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    found = _loads(text)
    if found is not None:
        return found
    start = text.find("{")
    while start >= 0:
        try:
            return _decoder.raw_decode(text, start)[0]
        except ValueError:
            start = text.find("{", start + 1)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_prediction(data: Any) -> str | None:
    """Why the parsed answer is not the prediction asked for (None: it is)."""
    if not isinstance(data, dict):
        return "the answer is not a JSON object"
    missing = [key for key in EXPECTED_KEYS if key not in data]
    if missing:
        return f"the JSON answer lacks {', '.join(missing)}"
    wrong = [key for key in EXPECTED_KEYS if not _is_number(data[key])]
    if wrong:
        return f"the JSON answer's {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not a number"
    return None


def judge_status(answer: Answer) -> Verdict | None:
    """Check 1 alone: a 200 without an error (all an embedding answer needs, once parsed)."""
    if answer.status != 200:
        return Verdict(answer.error or f"HTTP {answer.status}", answer.status not in NOT_THE_MODELS_FAULT)
    if answer.error is not None:
        return Verdict(answer.error)
    return None


def judge(answer: Answer) -> Verdict | None:
    """The first check ``answer`` fails (see the module docstring), or None when it passes."""
    failed = judge_status(answer)
    if failed is not None:
        return failed
    content = answer.content
    if not content or not content.strip():
        if answer.reasoning:  # e.g. a close-only model that sent no closing tag
            return Verdict("empty answer: all of the output was taken as reasoning")
        return Verdict("empty answer")
    tag = _TAG.search(content)
    if tag:
        return Verdict(f"reasoning tag {tag.group(0)} left in the answer")
    if cjk_ratio(content) >= CJK_LIMIT:
        return Verdict(NON_ENGLISH)
    data = extract_json(content)
    if data is None:
        return Verdict("the answer is not JSON")
    problem = check_prediction(data)
    return Verdict(problem) if problem else None
