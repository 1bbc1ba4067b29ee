"""What the fake upstream should do for one call, and what it recorded.

`Behavior` is the knob tests turn: ``fake.set("org/Model", Behavior(kind="rate_limit",
retry_after="3"))``. Anything that accepts a behaviour also accepts the shorthands
``"error"`` (a kind name) and ``{"kind": "error", "status": 503}`` (its fields), which
is also the JSON form used by the HTTP control API.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Union

DEFAULT_ANSWER = '{"home_goals": 2, "away_goals": 1, "confidence": 0.64}'
"""The default answer: valid JSON, so a "validate" check that asks for JSON succeeds."""

CHINESE_ANSWER = "根据两队最近的状态，我预测主队以二比一获胜，信心约为百分之六十四。"
"""What ``kind="chinese"`` answers unless `Behavior.content` is given."""

DEFAULT_REASONING = "The user wants a prediction. Let me think step by step."

STALL_DEFAULT_S = 3600.0
"""How long ``kind="stall"`` sleeps when `Behavior.delay_s` is left at 0."""

KINDS = frozenset(
    {
        "ok",  # a normal answer
        "think_inline",  # content "<think>reasoning</think>answer", tags split across chunks
        "think_close_only",  # content "reasoning</think>answer" (Qwen3-Thinking)
        "reasoning_field",  # the flavor's reasoning field (Flavor.reasoning_field) in message / deltas
        "chinese",  # answers in Chinese
        "tool_call",  # a tool call; streamed arguments arrive in pieces keyed by index
        "error",  # HTTP `status` with the flavor's error body
        "stream_error",  # stream: some chunks, then `data: {"error": ...}`; else like "error"
        "rate_limit",  # 429 in the flavor's shape (+ Retry-After, x-ratelimit-*)
        "model_not_available",  # the flavor's "no such model" error (Flavor.model_missing)
        "stall",  # sleep before sending headers (delay_s, default STALL_DEFAULT_S)
        "cut",  # abort the TCP connection mid-body / mid-stream
        "no_done",  # stream ends cleanly but without `data: [DONE]`
        "invalid_json",  # 200 with a body (or a `data:` line) that is not JSON
        "reset",  # abort the connection before any response
        "model",  # answer like a model: honour tools, response_format, n, logprobs (fake/model.py)
        "model_think",  # "model" behind inline <think> reasoning (demo mode's reasoning models)
    }
)

MODELS_BEHAVIORS = frozenset({"ok", "garbage", "error", "invalid_json"})
"""What ``set_models_behavior`` accepts for ``GET /{flavor}/v1/models``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Behavior:
    """How the fake upstream answers one chat-completion call.

    Attributes:
        kind: one of `KINDS` (see the comments there).
        content: the answer text (default `DEFAULT_ANSWER`, or `CHINESE_ANSWER` for
            ``"chinese"``); for error kinds, the error message; for ``"tool_call"``, the
            function arguments; for ``"model"``, the answer when the request asks for
            no tool call and no format.
        reasoning: the reasoning text of the thinking kinds (``"model_think"``: by
            default one that says what the answer does).
        status: HTTP status of ``"error"``/``"stream_error"``; for
            ``"model_not_available"`` a non-default value (404, 410) overrides the
            flavor's usual status.
        retry_after: value of the ``Retry-After`` header of ``"rate_limit"`` (None: no
            header).
        delay_s: seconds to wait before the response headers, for every kind (latency);
            ``"stall"`` waits `STALL_DEFAULT_S` when left at 0.
        chunk_size: characters per streamed content / reasoning / arguments chunk
            (the ``"model"`` kinds stream token by token).
        chunk_delay_s: seconds between streamed chunks (a slow model; longer than the
            gateway's timeout: a stall in the middle of a stream).
        finish_reason: overrides the final finish_reason (default: the flavor's,
            `Flavor.finish_reason`; tool calls "tool_calls").
    """

    kind: str = "ok"
    content: str | None = None
    reasoning: str = DEFAULT_REASONING
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 0.0
    chunk_size: int = 4
    chunk_delay_s: float = 0.0
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            expected = sorted(KINDS)
            raise ValueError(f"unknown Behavior kind {self.kind!r}; expected one of {expected}")
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")

    @property
    def answer(self) -> str:
        """The visible answer text (before any reasoning is wrapped around it)."""
        if self.content is not None:
            return self.content
        return CHINESE_ANSWER if self.kind == "chinese" else DEFAULT_ANSWER

    @classmethod
    def coerce(cls, value: BehaviorLike) -> Behavior:
        """Turn a `Behavior`, a kind name or a dict of fields into a `Behavior`."""
        if isinstance(value, Behavior):
            return value
        if isinstance(value, str):
            return cls(kind=value)
        if isinstance(value, dict):
            known = {f.name for f in fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise ValueError(f"unknown Behavior fields {sorted(unknown)}")
            return cls(**value)
        raise TypeError(f"cannot make a Behavior from {value!r}")


BehaviorLike = Union[Behavior, str, dict]

OK = Behavior()


def coerce_sequence(value: BehaviorLike | list[BehaviorLike]) -> list[Behavior]:
    """A behaviour or a non-empty list of them, as a list of `Behavior`."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError("an empty behaviour list; pass None to clear a model's behaviour")
    return [Behavior.coerce(item) for item in items]


class Headers(dict):
    """A plain dict of request headers whose lookups ignore case (keys stored lower-case)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((str(k).lower(), v) for k, v in dict(items).items())

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake upstream received (chat completions, models, extra routes).

    ``headers`` is a dict with case-insensitive lookups; ``body`` is the parsed JSON
    body when it was a JSON object, else None.
    """

    flavor: str
    path: str
    headers: dict = field(default_factory=Headers)
    body: dict | None = None
