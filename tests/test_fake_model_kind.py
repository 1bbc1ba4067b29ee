"""``kind="model"`` of the fake upstream: what it decides to say (pure, no server).

The gateway-level behaviour (SDKs, libraries, schemas) is in test_demo_like_a_model.py;
these are the decisions that test does not reach.
"""

from __future__ import annotations

import json

from synaxis_core.fake import OPENAI, Behavior, Flavor
from synaxis_core.fake.behavior import DEFAULT_ANSWER
from synaxis_core.fake.model import model_turn
from synaxis_core.fake.wire import options, tokens

MODEL = Behavior(kind="model")
ASK = [{"role": "user", "content": "Go"}]
A = {"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}
B = {"type": "function", "function": {"name": "b"}}


def turn(behavior=MODEL, flavor=OPENAI, **request):
    return model_turn(flavor, behavior, {"messages": ASK, **request})


def after_a(**request):
    call = {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}}
    messages = [*ASK, {"role": "assistant", "tool_calls": [call]}, {"role": "tool", "tool_call_id": "c1", "content": "42"}]
    return model_turn(OPENAI, MODEL, {"messages": messages, "tools": [A, B], **request})


def test_no_tools_no_format_is_the_behaviours_answer_with_the_flavours_finish_reason():
    assert (turn().content, turn().finish_reason) == (DEFAULT_ANSWER, "stop")
    assert turn(Behavior(kind="model", content="hello")).content == "hello"
    assert turn(flavor=Flavor(name="eosy", finish_reason="eos")).finish_reason == "eos"


def test_allowed_tools_restrict_the_choice():
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "b"}}]}}
    call = turn(tools=[A, B], tool_choice=choice).tool_call
    assert call["function"] == {"name": "b", "arguments": "{}"}


def test_after_a_tool_result_a_forced_call_goes_to_a_tool_not_called_yet():
    assert after_a().tool_call is None and after_a().content == "a returned: 42"
    assert after_a(tool_choice="required").tool_call["function"]["name"] == "b"
    assert after_a(tool_choice={"type": "function", "function": {"name": "a"}}).tool_call["function"]["name"] == "a"


def test_after_a_tool_result_a_response_format_still_shapes_the_answer():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}, "required": ["n"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    assert json.loads(after_a(response_format=fmt).content) == {"n": 3}


def test_json_object_uses_a_schema_in_the_messages_else_the_answer_if_it_is_an_object():
    schema = {"type": "object", "properties": {"team": {"enum": ["Arsenal"]}}, "required": ["team"]}
    prompt = [{"role": "system", "content": f"Answer as JSON {{not json}} matching {json.dumps(schema)}."}, *ASK]
    with_schema = model_turn(OPENAI, MODEL, {"messages": prompt, "response_format": {"type": "json_object"}})
    assert json.loads(with_schema.content) == {"team": "Arsenal"}
    assert turn(response_format={"type": "json_object"}).content == DEFAULT_ANSWER
    prose = Behavior(kind="model", content="Sure!")
    assert turn(prose, response_format={"type": "json_object"}).content == "{}"


def test_model_think_reasons_first_and_keeps_a_scripted_reasoning():
    assert turn(Behavior(kind="model_think"), tools=[A]).reasoning.startswith("I should call a")
    assert turn(Behavior(kind="model_think", reasoning="Hmm.")).reasoning == "Hmm."
    assert turn().reasoning is None


def test_options_and_tokens():
    assert options({"n": 3, "logprobs": True, "top_logprobs": 99}) == (3, 20)
    assert options({"n": 0, "top_logprobs": 2}) == (1, None)
    text = 'Hi  there, {"a": 1}\n'
    assert "".join(tokens(text)) == text and tokens(text)[:3] == ["Hi", "  there", ","]
