"""The think-tag stripper: reasoning moved out of ``content``, streamed or not."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synaxis_core.postprocess.base import PostProcessContext, PostProcessor
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_core.types import ModelSpec

R1 = ModelSpec(id="deepseek-r1-syn", upstream_id="hf:deepseek-ai/DeepSeek-R1-0528", reasoning=True)
QWEN = ModelSpec(id="qwen3-thinking-syn", upstream_id="hf:Qwen/Qwen3-235B-A22B-Thinking-2507", reasoning=True)
MODES = ("separate", "strip", "keep")


def make_stripper() -> ThinkTagStripper:
    return ThinkTagStripper(
        "think-tags", applies=lambda spec: spec.reasoning, close_only=lambda spec: "Thinking-2507" in spec.upstream_id
    )


def ctx(model: ModelSpec = R1, mode: str = "separate") -> PostProcessContext:
    return PostProcessContext(model=model, reasoning_mode=mode)  # type: ignore[arg-type]


def message(content: Any, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **extra}


def stream(deltas: list[dict[str, Any]], model: ModelSpec = R1, mode: str = "separate") -> list[dict[str, Any]]:
    """Feed the deltas of choice 0 and flush; return every non-empty delta sent."""
    state = make_stripper().stream_state(ctx(model, mode))
    sent = [state.feed(0, delta) for delta in deltas]
    sent.extend(state.flush().values())
    return [d for d in sent if any(v not in (None, "") for v in d.values())]


def joined(deltas: list[dict[str, Any]], key: str) -> str:
    return "".join(d.get(key) or "" for d in deltas)


def stream_text(chunks: list[str], model: ModelSpec = R1, mode: str = "separate") -> tuple[str, str]:
    sent = stream([{"content": c} for c in chunks], model, mode)
    return joined(sent, "content"), joined(sent, "reasoning_content")


def test_it_is_a_postprocessor_that_applies_to_reasoning_models() -> None:
    stripper = make_stripper()
    assert isinstance(stripper, PostProcessor)
    assert stripper.applies_to(R1) and not stripper.applies_to(ModelSpec(id="x", upstream_id="x"))
    assert stripper.order == 10


def test_r1_inline_block_is_moved_to_both_reasoning_fields() -> None:
    out = make_stripper().process_message(message("<think>\nThe user greets.\n</think>\n\nHello!"), ctx())
    assert out == {
        "role": "assistant",
        "content": "Hello!",
        "reasoning_content": "\nThe user greets.\n",
        "reasoning": "\nThe user greets.\n",
    }


def test_r1_tags_split_across_chunks() -> None:
    chunks = ["<th", "ink>", "Greeting", ".</", "thi", "nk", ">\n", "\nHel", "lo!"]
    assert stream_text(chunks) == ("Hello!", "Greeting.")


def test_nothing_but_a_possible_tag_start_is_held_back() -> None:
    state = make_stripper().stream_state(ctx())
    assert state.feed(0, {"content": "Hi"}) == {"content": "Hi"}
    assert state.feed(0, {"content": " a < b, c <th"}) == {"content": " a < b, c "}
    assert state.feed(0, {"content": "ree"}) == {"content": "<three"}


def test_plain_content_deltas_pass_through_as_the_same_object() -> None:
    state = make_stripper().stream_state(ctx())
    state.feed(0, {"content": "Hi"})
    delta = {"content": " there, no tags here"}
    assert state.feed(0, delta) is delta


def test_qwen_thinking_close_only_everything_before_the_closing_tag_is_reasoning() -> None:
    text = "Okay, the capital of France.\n</think>\n\nParis."
    out = make_stripper().process_message(message(text), ctx(QWEN))
    assert (out["content"], out["reasoning_content"]) == ("Paris.", "Okay, the capital of France.\n")
    assert stream_text(["Okay, the", " capital of France.\n</", "think>\n", "\nParis."], QWEN) == (
        "Paris.",
        "Okay, the capital of France.\n",
    )


def test_close_only_is_the_default_for_templates_that_supply_the_opening_tag() -> None:
    """However a stripper was made, a Qwen3 Thinking-2507 / QwQ deployment is close-only."""
    stripper = ThinkTagStripper("any", applies=lambda spec: spec.reasoning)
    qwq = ModelSpec(id="qwq-local", upstream_id="Qwen/QwQ-32B", reasoning=True)
    assert stripper.is_close_only(QWEN) and stripper.is_close_only(qwq) and not stripper.is_close_only(R1)
    out = stripper.process_message(message("Two goals.</think>\n\n{}"), ctx(QWEN))
    assert (out["content"], out["reasoning_content"]) == ("{}", "Two goals.")
    never = ThinkTagStripper("never", applies=lambda spec: True, close_only=lambda spec: False)
    assert never.process_message(message("Two goals.</think>{}"), ctx(QWEN))["content"] == "Two goals.</think>{}"


def test_close_only_model_that_sends_the_opening_tag_anyway() -> None:
    out = make_stripper().process_message(message("<think>plan</think>Answer"), ctx(QWEN))
    assert (out["content"], out["reasoning_content"]) == ("Answer", "plan")


def test_leading_closing_tag_of_an_empty_block_is_dropped() -> None:
    out = make_stripper().process_message(message("\n</think>\n\nJust the answer."), ctx(R1))
    assert out == message("Just the answer.")
    assert stream_text(["\n", "</th", "ink>", "\n\nJust the answer."]) == ("Just the answer.", "")


def test_a_stray_closing_tag_inside_an_answer_is_text() -> None:
    text = "Use </think> to end a block."
    assert make_stripper().process_message(message(text), ctx())["content"] == text


def test_several_blocks_and_aliases_any_case() -> None:
    text = "<THINK>a</Think>First. <thinking>b</thinking>\nSecond. <reasoning>c</REASONING> Third."
    out = make_stripper().process_message(message(text), ctx())
    assert (out["content"], out["reasoning"]) == ("First. Second. Third.", "abc")


def test_a_block_ends_only_at_its_own_closing_tag() -> None:
    out = make_stripper().process_message(message("<thinking>x</think>y</thinking>z"), ctx())
    assert (out["content"], out["reasoning"]) == ("z", "x</think>y")


def test_unclosed_block_at_the_end_is_reasoning() -> None:
    out = make_stripper().process_message(message("<think>still thinking when max_tokens hit </thi"), ctx())
    assert (out["content"], out["reasoning"]) == ("", "still thinking when max_tokens hit </thi")
    assert stream_text(["<think>still", " thinking </thi"]) == ("", "still thinking </thi")


def test_partial_tag_at_the_end_of_an_answer_is_content() -> None:
    assert stream_text(["Done <th"]) == ("Done <th", "")


def test_together_reasoning_field_is_normalised_to_both_names() -> None:
    sent = stream([{"role": "assistant", "reasoning": "Think"}, {"reasoning": "ing."}, {"content": "Answer"}])
    assert sent[0] == {"role": "assistant", "reasoning_content": "Think", "reasoning": "Think"}
    assert (joined(sent, "reasoning"), joined(sent, "content")) == ("Thinking.", "Answer")
    out = make_stripper().process_message(message("Answer", reasoning="Thinking."), ctx())
    assert out == message("Answer", reasoning_content="Thinking.", reasoning="Thinking.")


def test_upstream_reasoning_field_means_content_is_not_parsed() -> None:
    text = "Literally <think>this</think> tag."
    out = make_stripper().process_message(message(text, reasoning_content="why"), ctx())
    assert (out["content"], out["reasoning"]) == (text, "why")
    sent = stream([{"reasoning_content": "why"}, {"content": "Literally <think>"}, {"content": "this</think> tag."}])
    assert joined(sent, "content") == text


def test_nim_null_reasoning_content_still_parses_inline_tags() -> None:
    out = make_stripper().process_message(message("<think>r</think>a", reasoning_content=None), ctx())
    assert out == message("a", reasoning_content="r", reasoning="r")
    sent = stream([{"content": "<think>r</th", "reasoning_content": None}, {"content": "ink>a", "reasoning_content": None}])
    assert sent == [{"reasoning_content": "r", "reasoning": "r", "content": ""}, {"content": "a"}]


def test_strip_mode_drops_reasoning_entirely() -> None:
    out = make_stripper().process_message(message("<think>r</think>a"), ctx(mode="strip"))
    assert out == message("a")
    out = make_stripper().process_message(message("a", reasoning="r", reasoning_content=None), ctx(mode="strip"))
    assert out == message("a")
    sent = stream([{"reasoning": "r"}, {"content": "<think>x</think>a"}], mode="strip")
    assert sent == [{"content": "<think>x</think>a"}]


def test_keep_mode_changes_nothing() -> None:
    original = message("<think>r</think>a", reasoning=None)
    assert make_stripper().process_message(original, ctx(mode="keep")) is original
    delta = {"reasoning": "r"}
    assert make_stripper().stream_state(ctx(mode="keep")).feed(0, delta) is delta


def test_tool_call_deltas_and_null_content_pass_through() -> None:
    call = {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}], "content": None}
    assert stream([call]) == [call]
    assert make_stripper().process_message(message(None, tool_calls=[]), ctx()) == message(None, tool_calls=[])


def test_choices_have_separate_state() -> None:
    state = make_stripper().stream_state(ctx())
    assert state.feed(0, {"content": "<think>a"}) == {"reasoning_content": "a", "reasoning": "a", "content": ""}
    assert state.feed(1, {"content": "b"}) == {"content": "b"}
    assert state.flush_choice(0) == {}


def test_deltas_with_tags_keep_their_shape() -> None:
    state = make_stripper().stream_state(ctx())
    sent = [state.feed(0, {"content": c}) for c in ("A<think>b", "c</think>\n", " \u3000D<b>", "E<thinking>f")]
    assert [list(d.items()) for d in sent] == [
        [("content", "A"), ("reasoning_content", "b"), ("reasoning", "b")],
        [("reasoning_content", "c"), ("reasoning", "c"), ("content", "")],
        [("content", "D<b>")],
        [("content", "E"), ("reasoning_content", "f"), ("reasoning", "f")],
    ]
    strip = make_stripper().stream_state(ctx(mode="strip"))
    assert [strip.feed(0, {"content": c}) for c in ("<think>a", "b</think>c")] == [{"content": ""}, {"content": "c"}]


def test_letter_case_is_ascii_only() -> None:
    text = "<thin\u212a>x</thin\u212a>y"  # KELVIN SIGN: lower() makes it a "k", but it is none
    assert make_stripper().process_message(message(text), ctx())["content"] == text
    assert stream_text(["<thin", "\u212a>x</thin\u212a", ">y"]) == (text, "")


# -- property: streaming gives exactly what the whole-message path gives ------------

FRAGMENTS = ["<think>", "</think>", "<THINK>", "<Thinking>", "</thinking>", "<reasoning>", "</REASONING>",
             "<", "</", ">", "<th", "ink>", "</th", "\n", " ", "\t", "\u3000", "a", "Answer.", "<b>", "\u212a",
             "\u0130"]
texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=25).map("".join)


@st.composite
def text_and_cuts(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(texts)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=400, deadline=None)
@given(text_and_cuts(), st.sampled_from(MODES), st.booleans())
def test_streamed_equals_non_streamed_for_any_chunking(case: tuple[str, list[str]], mode: str, close_only: bool) -> None:
    text, chunks = case
    model = QWEN if close_only else R1
    whole = make_stripper().process_message(message(text), ctx(model, mode))
    content, reasoning = stream_text(chunks, model, mode)
    assert content == whole["content"]
    assert reasoning == (whole.get("reasoning_content") or "")
    if mode == "keep":
        assert content == text
    if mode == "strip":
        assert reasoning == "" and "reasoning" not in whole


@settings(max_examples=300, deadline=None)
@given(text_and_cuts(), st.sampled_from(("separate", "strip")), st.booleans())
def test_bare_content_deltas_take_a_shortcut_to_the_same_deltas(
    case: tuple[str, list[str]], mode: str, close_only: bool
) -> None:
    """``{"content": ...}`` alone has a fast path; with a null field it takes the general one."""
    _, chunks = case
    model = QWEN if close_only else R1
    bare, general = (make_stripper().stream_state(ctx(model, mode)) for _ in range(2))
    for chunk in chunks:
        expected = general.feed(0, {"content": chunk, "reasoning_content": None})
        assert list(bare.feed(0, {"content": chunk}).items()) == list(expected.items())
    assert bare.flush() == general.flush()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="<"), max_size=60), st.booleans())
def test_text_without_a_less_than_sign_is_never_changed(text: str, close_only: bool) -> None:
    model = QWEN if close_only else R1
    out = make_stripper().process_message(message(text), ctx(model))
    if close_only:
        assert out == message("", reasoning_content=text, reasoning=text) if text else message("")
    else:
        assert out == message(text)


@pytest.mark.parametrize("mode", MODES)
def test_empty_and_whitespace_outputs(mode: str) -> None:
    for text in ("", "  \n"):
        assert stream_text([text], R1, mode)[0] == make_stripper().process_message(message(text), ctx(R1, mode))["content"]
