"""The language monitor: a CJK answer to a non-CJK prompt counts as a model failure."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synaxis_core.postprocess.base import PostProcessContext, PostProcessor
from synaxis_core.postprocess.language import PROBLEM, LanguageMonitor, cjk_ratio
from synaxis_core.types import ModelSpec

GLM = ModelSpec(id="glm-4.7-syn", upstream_id="hf:zai-org/GLM-4.7")
CHINESE_ANSWER = "巴黎是法国的首都，也是法国最大的城市，拥有悠久的历史和丰富的文化遗产。"
ENGLISH_ANSWER = "Paris is the capital of France and its largest city, with a long history."


def ctx(*messages: dict[str, Any]) -> PostProcessContext:
    return PostProcessContext(model=GLM, messages=list(messages))


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def check(answer: str, context: PostProcessContext, **message: Any) -> list[str]:
    original = {"role": "assistant", "content": answer, **message}
    assert LanguageMonitor().process_message(original, context) is original
    return context.problems


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("", 0.0),
        ("1234 !?", 0.0),
        ("Hello world", 0.0),
        ("你好世界", 1.0),
        ("こんにちは、カタカナ", 1.0),
        ("안녕하세요", 1.0),
        ("ab你好", 0.5),
        ("Привет мир 你好", 2 / 11),
        ("你好！。，123", 1.0),
    ],
)
def test_cjk_ratio_counts_letters_only(text: str, ratio: float) -> None:
    assert cjk_ratio(text) == pytest.approx(ratio)


def test_it_is_a_postprocessor_for_every_model_by_default() -> None:
    monitor = LanguageMonitor()
    assert isinstance(monitor, PostProcessor)
    assert (monitor.name, monitor.order, monitor.applies_to(GLM)) == ("language-monitor", 90, True)
    assert not LanguageMonitor(applies=lambda spec: False).applies_to(GLM)


def test_chinese_answer_to_english_prompt_is_flagged() -> None:
    assert check(CHINESE_ANSWER, ctx(user("What is the capital of France?"))) == [PROBLEM]


def test_chinese_answer_to_chinese_prompt_is_not_flagged() -> None:
    assert check(CHINESE_ANSWER, ctx(user("法国的首都是哪里？"))) == []


def test_english_system_prompt_with_a_chinese_question_is_not_flagged() -> None:
    system = {"role": "system", "content": "You are a helpful assistant. " * 20}
    assert check(CHINESE_ANSWER, ctx(system, user("法国的首都是哪里？"))) == []


def test_a_request_for_a_cjk_language_is_not_flagged() -> None:
    assert check(CHINESE_ANSWER, ctx(user("Translate into Chinese: Paris is the capital of France."))) == []


def test_a_system_prompt_forbidding_chinese_does_not_silence_the_monitor() -> None:
    system = {"role": "system", "content": "Never answer in Chinese."}
    assert check(CHINESE_ANSWER, ctx(system, user("What is the capital of France?"))) == [PROBLEM]


def test_english_answer_and_short_answers_are_not_flagged() -> None:
    assert check(ENGLISH_ANSWER, ctx(user("What is the capital of France?"))) == []
    assert check("巴黎。", ctx(user("Capital of France, one word?"))) == []


def test_only_the_answer_counts_not_reasoning() -> None:
    context = ctx(user("What is the capital of France?"))
    assert check(ENGLISH_ANSWER, context, reasoning_content=CHINESE_ANSWER * 3) == []


def test_list_content_prompt_is_read() -> None:
    parts = {"role": "user", "content": [{"type": "text", "text": "法国的首都是哪里？"}]}
    assert check(CHINESE_ANSWER, ctx(parts)) == []


def test_streaming_reports_at_flush_and_never_changes_deltas() -> None:
    context = ctx(user("What is the capital of France?"))
    state = LanguageMonitor().stream_state(context)
    for piece in (CHINESE_ANSWER[i : i + 3] for i in range(0, len(CHINESE_ANSWER), 3)):
        delta = {"content": piece}
        assert state.feed(0, delta) is delta
    assert state.feed(0, {"reasoning_content": "ignored"}) == {"reasoning_content": "ignored"}
    assert context.problems == []
    assert state.flush() == {}
    assert state.flush() == {}
    assert context.problems == [PROBLEM]


def test_any_choice_in_chinese_is_reported_once() -> None:
    context = ctx(user("What is the capital of France?"))
    state = LanguageMonitor().stream_state(context)
    state.feed(0, {"content": ENGLISH_ANSWER})
    state.feed(1, {"content": CHINESE_ANSWER})
    state.feed(2, {"content": CHINESE_ANSWER})
    assert state.flush_choice(1) == {}
    assert context.problems == [PROBLEM]
    state.flush()
    assert context.problems == [PROBLEM]


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from("你好世界巴黎カタ한국 abc,.1") | st.characters(), max_size=80), st.data())
def test_cjk_ratio_is_bounded_and_streaming_agrees_with_the_whole_message(text: str, data: st.DataObject) -> None:
    assert 0.0 <= cjk_ratio(text) <= 1.0
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *cuts, len(text)]
    prompt = data.draw(st.sampled_from(["What is it?", "这是什么？"]))
    streamed, whole = ctx(user(prompt)), ctx(user(prompt))
    state = LanguageMonitor().stream_state(streamed)
    for a, b in zip(bounds, bounds[1:]):
        state.feed(0, {"content": text[a:b]})
    state.flush()
    LanguageMonitor().process_message({"content": text}, whole)
    assert streamed.problems == whole.problems
