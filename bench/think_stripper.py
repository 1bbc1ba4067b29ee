"""Micro-benchmark of the think-tag stripper (and the chain around it).

Run: ``python bench/think_stripper.py``. Prints MB/s (of UTF-8 input) for:

* (a) 1 MB of plain text (no tags) fed as 20-character content deltas;
* (b) 1 MB of tag-dense text, same chunking: per 217 characters two short ``<think>``
  blocks and four other ``<`` (``<b>``, ``a < b``, a stray ``</thin``), so a ``<``
  every ~27 characters and one in 59% of the deltas;
* (c) 1 MB of reasoning: one long ``<think>`` block, same chunking;
* each also through a ``StreamPipeline`` of stripper + language monitor (chunks are
  built before the clock starts), and the whole-message path;
* each also as 4-character deltas, roughly one token per delta.

Streamed lines also print the cost per delta, which is what the MB/s figure measures:
at 20-character deltas 50 MB/s is 0.4 µs per delta. A delta without ``<`` while
nothing is held back takes a fast path; one with ``<`` goes through the parser.
``bench/run.py`` reads the "stripper stream" lines (the number before "MB/s").
"""

from __future__ import annotations

import time
from typing import Any, Callable

from synaxis_core.postprocess.base import PostProcessContext
from synaxis_core.postprocess.language import LanguageMonitor
from synaxis_core.postprocess.pipeline import StreamPipeline
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_core.types import ModelSpec

SIZE = 1_000_000
CHUNK = 20
TOKEN_CHUNK = 4
SPEC = ModelSpec(id="r1", upstream_id="deepseek-ai/DeepSeek-R1", reasoning=True)
STRIPPER = ThinkTagStripper("think-tags", applies=lambda spec: True)


def plain_text() -> str:
    words = "the quick brown fox jumps over the lazy dog, then writes 42 lines of code. "
    return (words * (SIZE // len(words) + 1))[:SIZE]


def tagged_text() -> str:
    unit = "<think>Let me consider the user's question.</think>\n\nHere is a short answer part. " * 2
    unit += "Some <b>html</b> and a < b comparisons, </thin tags. "
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def reasoning_text() -> str:
    return "<think>" + plain_text()[7:]


def chunks_of(text: str, size: int = CHUNK) -> list[dict[str, Any]]:
    """Chat-completion chunks of ``size`` characters of content each."""
    pieces = (text[i : i + size] for i in range(0, len(text), size))
    return [{"id": "x", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]


def stream_stripper(chunks: list[dict[str, Any]]) -> None:
    state = STRIPPER.stream_state(PostProcessContext(model=SPEC))
    for chunk in chunks:
        state.feed(0, chunk["choices"][0]["delta"])
    state.flush()


def stream_pipeline(chunks: list[dict[str, Any]]) -> None:
    context = PostProcessContext(model=SPEC, messages=[{"role": "user", "content": "Hi"}])
    pipeline = StreamPipeline([STRIPPER, LanguageMonitor()], context)
    for chunk in chunks:
        pipeline.feed_chunk(chunk)
    pipeline.finish()


def whole_message(text: str) -> None:
    STRIPPER.process_message({"role": "assistant", "content": text}, PostProcessContext(model=SPEC))


def measure(label: str, size: int, run: Callable[[], None], deltas: int = 0, repeat: int = 5) -> None:
    best = min(_timed(run) for _ in range(repeat))
    per_delta = f"{best / deltas * 1e6:6.3f} µs/delta" if deltas else ""
    print(f"{label:<58} {per_delta:>15} {size / best / 1e6:8.1f} MB/s")


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    cases = (("(a) plain text", plain_text()), ("(b) many tags", tagged_text()), ("(c) reasoning", reasoning_text()))
    for name, text in cases:
        chunks, tokens = chunks_of(text), chunks_of(text, TOKEN_CHUNK)
        size, n = len(text.encode()), len(chunks)
        measure(f"{name}, stripper stream, {CHUNK}-char deltas", size, lambda: stream_stripper(chunks), n)
        measure(f"{name}, pipeline stripper+monitor, {CHUNK}-char", size, lambda: stream_pipeline(chunks), n)
        measure(f"{name}, whole message", size, lambda: whole_message(text))
        measure(f"{name}, stripper, {TOKEN_CHUNK}-char deltas (~1 token)", size, lambda: stream_stripper(tokens),
                len(tokens))


if __name__ == "__main__":
    main()
