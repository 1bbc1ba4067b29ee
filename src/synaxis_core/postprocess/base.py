"""The post-processor contract.

A post-processor transforms model output. It says which deployments it applies to
(``applies_to``; and, with an optional ``provider`` attribute naming a provider, only
that provider's deployments: a plugin scopes its post-processors to its own provider
this way) and where it runs in the chain (``order``: lower runs first). It
handles a whole message (``process_message``, non-streaming) and a stream
(``stream_state`` returns a fresh ``StreamProcessor`` per response, fed each delta
per choice and flushed once at the end). Both paths must give the same result.

Post-processors report output that counts as a *model failure* (for example an
answer in the wrong language) by appending a reason to ``context.problems``; the
router feeds those into the deployment's health.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from synaxis_core.types import ModelSpec

ReasoningMode = Literal["separate", "strip", "keep"]


@dataclass
class PostProcessContext:
    """What a post-processor knows about the response it is transforming."""

    model: ModelSpec
    reasoning_mode: ReasoningMode = "separate"
    messages: list[dict[str, Any]] = field(default_factory=list)
    """The request's messages (for monitors that compare output with the prompt)."""
    problems: list[str] = field(default_factory=list)
    """Reasons this output counts as a failure of the model (empty: fine)."""

    @property
    def prompt_text(self) -> str:
        """The text of the request's messages, concatenated."""
        parts: list[str] = []
        for message in self.messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(
                    part["text"]
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                )
        return "\n".join(parts)


@runtime_checkable
class StreamProcessor(Protocol):
    """Per-response streaming state of one post-processor."""

    def feed(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        """Transform the delta of choice ``index``; return the delta to send on
        (possibly with fewer or more keys; an empty dict sends nothing)."""
        ...

    def flush(self) -> dict[int, dict[str, Any]]:
        """The stream ended: return the held-back delta per choice index."""
        ...


@runtime_checkable
class PostProcessor(Protocol):
    """What ``register_postprocessors`` accepts. Optional attribute: ``provider: str |
    None`` -- when set, the post-processor applies only to that provider's deployments
    (``postprocess.pipeline.select``)."""

    name: str
    order: int

    def applies_to(self, model: ModelSpec) -> bool: ...

    def process_message(self, message: dict[str, Any], context: PostProcessContext) -> dict[str, Any]:
        """Transform a whole ``choices[i].message`` and return it."""
        ...

    def stream_state(self, context: PostProcessContext) -> StreamProcessor: ...
