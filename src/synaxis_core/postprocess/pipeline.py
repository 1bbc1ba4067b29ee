"""Applying a chain of post-processors to a response or a stream.

``select`` picks the post-processors for a deployment (a post-processor scoped to a
provider only for that provider's); ``process_response`` runs
them over a non-streamed chat completion; ``StreamPipeline`` runs them over a stream
of ``chat.completion.chunk`` dicts, each processor's output feeding the next.

Held-back text and ``finish_reason``: a processor may hold text back (a possible
partial tag). When a choice's chunk carries a ``finish_reason``, the pipeline asks
every processor for that choice's held-back text and puts it into the same chunk's
delta, so no text ever follows its choice's ``finish_reason``. For that it calls the
stream state's optional ``flush_choice(index) -> dict`` (the built-in processors have
it); a state without it releases its text only in ``finish()``. ``finish()`` returns
the chunks still owed at the end of the stream (for upstreams that never send a
``finish_reason``); send them before the usage chunk if you can, in any case before
``[DONE]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from synaxis_core.postprocess.base import PostProcessContext, PostProcessor, StreamProcessor
from synaxis_core.types import ModelSpec

_CHUNK_ID_KEYS = ("id", "object", "created", "model", "system_fingerprint", "service_tier")


def applies(postprocessor: PostProcessor, spec: ModelSpec, provider: str) -> bool:
    """Whether ``postprocessor`` runs on ``provider``'s deployment ``spec``: its optional
    ``provider`` attribute, when set, must name that provider, and ``applies_to(spec)``
    must be true."""
    scope = getattr(postprocessor, "provider", None)
    return (scope is None or scope == provider) and postprocessor.applies_to(spec)


def select(postprocessors: Iterable[PostProcessor], spec: ModelSpec, provider: str) -> list[PostProcessor]:
    """The post-processors that apply to deployment ``spec`` of ``provider`` (see
    `applies`), in running order ``(order, name)``."""
    return sorted((p for p in postprocessors if applies(p, spec, provider)), key=lambda p: (p.order, p.name))


def process_response(
    processors: Sequence[PostProcessor], response: dict[str, Any], context: PostProcessContext
) -> dict[str, Any]:
    """Run every processor's ``process_message`` over each ``choices[i].message``.

    Returns a new response dict (the input is not modified); with no processors, or
    no choices, the response itself.
    """
    choices = response.get("choices")
    if not processors or not choices:
        return response
    new_choices = []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            for processor in processors:
                message = processor.process_message(message, context)
            choice = {**choice, "message": message}
        new_choices.append(choice)
    return {**response, "choices": new_choices}


def _merge(delta: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``delta`` followed by ``extra``: string values are concatenated."""
    if not extra:
        return delta
    merged = dict(delta)
    for key, value in extra.items():
        previous = merged.get(key)
        merged[key] = previous + value if isinstance(previous, str) and isinstance(value, str) else value
    return merged


def _is_empty(delta: dict[str, Any]) -> bool:
    """A delta worth nothing to a client: no keys, or only ``None`` / ``""`` values."""
    return all(value is None or value == "" for value in delta.values())


def _is_empty_choice(choice: dict[str, Any]) -> bool:
    """Only an empty delta: no ``finish_reason``, ``logprobs`` or anything else."""
    return _is_empty(choice["delta"]) and all(
        value is None for key, value in choice.items() if key not in ("index", "delta")
    )


def _flush_choice(state: StreamProcessor, index: int) -> dict[str, Any]:
    flush_choice = getattr(state, "flush_choice", None)
    return flush_choice(index) if flush_choice is not None else {}


class StreamPipeline:
    """Per-stream state of a chain of post-processors.

    :param processors: the chain, already selected and ordered (see ``select``).
    :param context: the response's ``PostProcessContext``, shared by the chain.
    """

    def __init__(self, processors: Sequence[PostProcessor], context: PostProcessContext) -> None:
        self.context = context
        self._states = [processor.stream_state(context) for processor in processors]
        self._last_chunk: dict[str, Any] | None = None
        self._finished = False

    def feed_chunk(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """Transform one chunk; return the chunk to send, or ``None`` to send nothing.

        ``None`` means the processors emptied every delta (they hold text back) and
        the chunk carries nothing else (no ``finish_reason``, usage, role...). A
        chunk that no processor changed is returned as is (the same object), and so
        are chunks without choices (the usage chunk, an in-stream error) and every
        chunk when the chain is empty. The input chunk is never modified.
        """
        states = self._states
        choices = chunk.get("choices")
        if not states or not choices:
            return chunk
        self._last_chunk = chunk
        changed = False
        new_choices = []
        for choice in choices:
            index = choice.get("index", 0)
            original = choice.get("delta") or {}
            finishing = choice.get("finish_reason") is not None
            delta = original
            for state in states:
                delta = state.feed(index, delta)
                if finishing:
                    delta = _merge(delta, _flush_choice(state, index))
            if delta is not original:
                changed = True
                choice = {**choice, "delta": delta}
            new_choices.append(choice)
        if not changed:
            return chunk
        if chunk.get("usage") is None and all(map(_is_empty_choice, new_choices)):
            return None
        return {**chunk, "choices": new_choices}

    def finish(self, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The stream ended: chunks carrying whatever is still held back (maybe none).

        :param template: a chunk whose ``id``/``created``/``model`` to copy; default:
            the last chunk that had choices.

        Also runs every processor's ``flush()``, which is where monitors report
        problems; call it exactly once, at the end of every stream.
        """
        if self._finished or not self._states:
            return []
        self._finished = True
        pending: dict[int, dict[str, Any]] = {}
        for state in self._states:
            out = {index: state.feed(index, delta) for index, delta in pending.items()}
            for index, delta in state.flush().items():
                out[index] = _merge(out.get(index, {}), delta)
            pending = {index: delta for index, delta in out.items() if not _is_empty(delta)}
        if not pending:
            return []
        base = template if template is not None else self._last_chunk or {}
        chunk: dict[str, Any] = {key: base[key] for key in _CHUNK_ID_KEYS if key in base}
        chunk["object"] = "chat.completion.chunk"
        chunk["choices"] = [
            {"index": index, "delta": delta, "finish_reason": None} for index, delta in sorted(pending.items())
        ]
        if "usage" in base:
            chunk["usage"] = None
        return [chunk]
