"""Chains of post-processors over whole responses and over streams of chunks."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from synaxis_core.postprocess.base import PostProcessContext
from synaxis_core.postprocess.language import PROBLEM, LanguageMonitor
from synaxis_core.postprocess.pipeline import StreamPipeline, process_response, select
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_core.types import ModelSpec

R1 = ModelSpec(id="deepseek-r1-together", upstream_id="deepseek-ai/DeepSeek-R1", reasoning=True)
PLAIN = ModelSpec(id="llama-nim", upstream_id="meta/llama-3.3-70b-instruct")
CHINESE = "巴黎是法国的首都，也是法国最大的城市，拥有悠久的历史和丰富的文化遗产。"


def chain() -> list[Any]:
    monitor = LanguageMonitor()
    stripper = ThinkTagStripper("think-tags", applies=lambda spec: spec.reasoning)
    return select([monitor, stripper], R1, "together")


def ctx(mode: str = "separate", prompt: str = "What is the capital of France?") -> PostProcessContext:
    return PostProcessContext(model=R1, reasoning_mode=mode, messages=[{"role": "user", "content": prompt}])  # type: ignore[arg-type]


def chunk(*deltas: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [{"index": i, "delta": d, "logprobs": None, "finish_reason": finish} for i, d in enumerate(deltas)]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "r1", "choices": choices, **extra}


def response(content: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    return {"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def run(pipeline: StreamPipeline, chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent = [out for c in chunks if (out := pipeline.feed_chunk(c)) is not None]
    return sent + pipeline.finish()


def texts(sent: list[dict[str, Any]], key: str, index: int = 0) -> str:
    return "".join(c["choices"][i]["delta"].get(key) or "" for c in sent for i in range(len(c["choices"]))
                   if c["choices"][i]["index"] == index)


def test_select_keeps_applicable_processors_sorted_by_order_then_name() -> None:
    a, b = ThinkTagStripper("b-tags", lambda s: True, order=10), ThinkTagStripper("a-tags", lambda s: True, order=10)
    only_reasoning = ThinkTagStripper("r", lambda s: s.reasoning, order=5)
    monitor = LanguageMonitor()
    assert select([monitor, a, b, only_reasoning], R1, "together") == [only_reasoning, b, a, monitor]
    assert select([monitor, a, b, only_reasoning], PLAIN, "nvidia") == [b, a, monitor]


def test_a_postprocessor_scoped_to_a_provider_runs_only_on_its_deployments() -> None:
    """The same model id at two providers: only the scoped provider's deployment is stripped."""
    mine = ThinkTagStripper("think-tags-mine", applies=lambda spec: spec.reasoning, provider="mine")
    anyone = LanguageMonitor()  # no provider attribute: every provider's
    assert select([mine, anyone], R1, "mine") == [mine, anyone]
    assert select([mine, anyone], R1, "theirs") == [anyone]
    response_ = response("<think>hmm</think>Paris.")
    theirs = process_response(select([mine], R1, "theirs"), response_, ctx())
    assert theirs["choices"][0]["message"]["content"] == "<think>hmm</think>Paris."
    stripped = process_response(select([mine], R1, "mine"), response_, ctx())
    assert stripped["choices"][0]["message"]["content"] == "Paris."


def test_process_response_strips_reasoning_before_the_monitor_reads_the_answer() -> None:
    context = ctx()
    original = response(f"<think>{CHINESE}</think>\n\nParis is the capital of France and its largest city.")
    snapshot = copy.deepcopy(original)
    out = process_response(chain(), original, context)
    assert out["choices"][0]["message"]["content"] == "Paris is the capital of France and its largest city."
    assert out["choices"][0]["message"]["reasoning_content"] == CHINESE
    assert context.problems == [] and original == snapshot

    context = ctx()
    process_response(chain(), response(f"<think>Answer in English.</think>{CHINESE}"), context)
    assert context.problems == [PROBLEM]


def test_empty_chain_costs_nothing() -> None:
    c, r = chunk({"content": "<think>x"}), response("<think>x</think>")
    pipeline = StreamPipeline([], ctx())
    assert pipeline.feed_chunk(c) is c and pipeline.finish() == []
    assert process_response([], r, ctx()) is r


def test_held_back_text_comes_before_its_finish_reason() -> None:
    pipeline = StreamPipeline(chain(), ctx())
    sent = run(pipeline, [chunk({"role": "assistant", "content": ""}), chunk({"content": "<think>Hmm</th"}),
                          chunk({"content": "ink>\n\nSee <"}), chunk({"content": "thi"}), chunk({}, finish="stop")])
    assert sent[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert sent[-1]["choices"][0] == {"index": 0, "delta": {"content": "<thi"}, "logprobs": None, "finish_reason": "stop"}
    assert texts(sent, "content") == "See <thi" and texts(sent, "reasoning") == "Hmm"
    assert sent[-1]["object"] == "chat.completion.chunk"


def test_chunks_that_become_empty_are_not_sent_but_usage_chunks_are() -> None:
    pipeline = StreamPipeline(chain(), ctx())
    assert pipeline.feed_chunk(chunk({"content": "<thi"})) is None
    usage = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}
    assert pipeline.feed_chunk(usage) is usage
    with_usage = pipeline.feed_chunk(chunk({"content": "nk>"}, usage={"total_tokens": 8}))
    assert with_usage is not None and with_usage["usage"] == {"total_tokens": 8}


def test_plain_chunks_go_through_as_the_same_object() -> None:
    pipeline = StreamPipeline(chain(), ctx())
    pipeline.feed_chunk(chunk({"content": "Hello"}))
    c = chunk({"content": " world"})
    assert pipeline.feed_chunk(c) is c


def test_finish_sends_what_an_upstream_without_finish_reason_left_held_back() -> None:
    pipeline = StreamPipeline(chain(), ctx())
    sent = [pipeline.feed_chunk(chunk({"content": "<think>still going</thi"}, usage=None))]
    tail = pipeline.finish()
    assert tail == [{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "r1", "usage": None,
                     "choices": [{"index": 0, "delta": {"reasoning_content": "</thi", "reasoning": "</thi"},
                                  "finish_reason": None}]}]
    assert texts([*sent, *tail], "reasoning") == "still going</thi"
    assert pipeline.finish() == []
    assert StreamPipeline(chain(), ctx()).finish(template={"id": "x"}) == []


def test_choices_are_flushed_one_by_one() -> None:
    pipeline = StreamPipeline(chain(), ctx())
    first = pipeline.feed_chunk(chunk({"content": "A <th"}, {"content": "<think>b"}))
    assert first is not None and [c["delta"].get("content") for c in first["choices"]] == ["A ", ""]
    end0 = {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    out = pipeline.feed_chunk(end0)
    assert out is not None and out["choices"][0]["delta"] == {"content": "<th"}
    end1 = {"id": "chatcmpl-1", "choices": [{"index": 1, "delta": {"content": "</think>B"}, "finish_reason": "stop"}]}
    out = pipeline.feed_chunk(end1)
    assert out is not None and out["choices"][0]["delta"] == {"content": "B"}
    assert pipeline.finish() == []


def test_the_monitor_reports_when_the_stream_finishes() -> None:
    context = ctx()
    pipeline = StreamPipeline(chain(), context)
    run(pipeline, [chunk({"content": "<think>Answer in English.</think>"}), chunk({"content": CHINESE})])
    assert context.problems == [PROBLEM]


def test_input_chunks_are_not_modified() -> None:
    chunks = [chunk({"content": "<think>a</think>b"}), chunk({"content": "c"}, finish="stop")]
    snapshot = copy.deepcopy(chunks)
    run(StreamPipeline(chain(), ctx()), chunks)
    assert chunks == snapshot


FRAGMENTS = ["<think>", "</think>", "<Thinking>", "</thinking>", "<", "</", "<th", "ink>", "\n", " ", "Answer", "你好"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=20).map("".join),
       st.sampled_from(["separate", "strip", "keep"]), st.booleans(), st.data())
def test_streamed_equals_non_streamed_through_the_pipeline(text: str, mode: str, finish: bool, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=10)))
    bounds = [0, *cuts, len(text)]
    chunks = [chunk({"content": text[a:b]}) for a, b in zip(bounds, bounds[1:])]
    if finish:
        chunks.append(chunk({}, finish="stop"))
    sent = run(StreamPipeline(chain(), ctx(mode)), chunks)
    message = process_response(chain(), response(text), ctx(mode))["choices"][0]["message"]
    assert texts(sent, "content") == message["content"]
    assert texts(sent, "reasoning_content") == (message.get("reasoning_content") or "")
    assert texts(sent, "reasoning") == (message.get("reasoning") or "")
    if finish:
        assert sent[-1]["choices"][0]["finish_reason"] == "stop"
