"""`fake.instance.minimal_instance`: a value valid against a JSON Schema.

The property: for the schema of any pydantic model (random nested models with
constrained fields, unions, optionals, lists, dicts, tuples, literals, enums, formats),
and for the strict schema the OpenAI SDK sends for it, the instance validates with
``jsonschema`` (formats checked) and with the model itself.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import uuid
from typing import Annotated, Any, Literal, Optional, Union

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.lib._pydantic import to_strict_json_schema
from pydantic import AnyUrl, BaseModel, Field, create_model

from synaxis_core.fake.instance import minimal_instance

_names = itertools.count()


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


LEAVES = st.sampled_from([
    int, float, str, bool, dt.date, dt.datetime, dt.time, dt.timedelta, uuid.UUID, AnyUrl, Colour,
    Literal["home", "away"], Literal[3],
])
CONSTRAINED = st.one_of(
    st.builds(lambda lo, span: Annotated[int, Field(ge=lo, le=lo + span)], st.integers(-50, 50), st.integers(0, 9)),
    st.builds(lambda lo: Annotated[int, Field(gt=lo)], st.integers(-5, 100)),
    st.builds(lambda hi: Annotated[int, Field(lt=hi)], st.integers(-100, 5)),
    st.builds(lambda lo, m: Annotated[int, Field(ge=lo, multiple_of=m)], st.integers(-20, 20), st.integers(1, 7)),
    st.builds(lambda lo, hi: Annotated[float, Field(gt=lo, lt=lo + hi)], st.floats(-100, 100), st.floats(0.5, 10)),
    st.builds(lambda lo: Annotated[float, Field(ge=lo)], st.floats(-1e6, 1e6)),
    st.builds(lambda lo, span: Annotated[str, Field(min_length=lo, max_length=lo + span)], st.integers(0, 12), st.integers(0, 5)),
)


def _model(fields: list[tuple[Any, bool]]) -> type[BaseModel]:
    spec = {f"f{i}": (kind, ...) if required else (Optional[kind], None) for i, (kind, required) in enumerate(fields)}
    return create_model(f"M{next(_names)}", **spec)


def _extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.tuples(inner, st.integers(1, 3)).map(lambda p: Annotated[list[p[0]], Field(min_length=p[1])]),
        st.integers(1, 4).map(lambda k: Annotated[set[int], Field(min_length=k)]),
        inner.map(lambda t: Annotated[dict[str, t], Field(min_length=1)]),
        st.tuples(inner, inner).map(lambda p: tuple[p[0], p[1]]),
        st.tuples(inner, inner).map(lambda p: Union[p[0], p[1]]),
        inner.map(lambda t: Optional[t]),
        st.lists(st.tuples(inner, st.booleans()), min_size=1, max_size=4).map(_model),
    )


TYPES = st.recursive(st.one_of(LEAVES, CONSTRAINED), _extend, max_leaves=8)
MODELS = st.lists(st.tuples(TYPES, st.booleans()), min_size=1, max_size=6).map(_model)


def check(schema: dict[str, Any], instance: Any) -> None:
    validator = jsonschema.validators.validator_for(schema)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(instance)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MODELS)
def test_the_instance_of_a_pydantic_schema_validates_and_parses(model):
    schema = model.model_json_schema()
    instance = minimal_instance(schema)
    check(schema, instance)
    model.model_validate(instance)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MODELS)
def test_the_instance_of_the_sdks_strict_schema_validates_and_parses(model):
    try:
        schema = to_strict_json_schema(model)
    except Exception:  # the SDK refuses some schemas for strict mode: nothing to answer
        return
    instance = minimal_instance(schema)
    check(schema, instance)
    model.model_validate(instance)


class Node(BaseModel):
    name: str
    children: list[Node] = []
    parent: Optional[Node] = None


class Tree(BaseModel):
    root: Node
    nodes: Annotated[list[Node], Field(min_length=2)]


def test_recursive_models_get_a_finite_instance():
    for schema in (Tree.model_json_schema(), to_strict_json_schema(Tree)):
        instance = minimal_instance(schema)
        check(schema, instance)
        assert Tree.model_validate(instance).nodes[1].name == "string"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "format": "date"}, "2026-01-01"),
        ({"type": "string", "format": "email"}, "user@example.com"),
        ({"type": "string", "format": "uuid"}, "00000000-0000-4000-8000-000000000000"),
        ({"type": "string", "minLength": 8}, "stringxx"),
        ({"type": "string", "maxLength": 3}, "ing"),
        ({"type": "integer", "minimum": 7}, 7),
        ({"type": "integer", "exclusiveMinimum": 7}, 8),
        ({"type": "integer", "maximum": -3}, -3),
        ({"type": "integer", "minimum": 10, "multipleOf": 4}, 12),
        ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, 0.5),
        ({"type": "integer", "minimum": 5, "exclusiveMinimum": True}, 6),  # draft 4
        ({"enum": ["b", "a"]}, "b"),
        ({"const": {"x": 1}}, {"x": 1}),
        ({"type": ["null", "boolean"]}, True),
        ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, None),
        ({"allOf": [{"properties": {"a": {"type": "integer"}}}, {"required": ["b"], "properties": {"b": {"type": "string"}}}]},
         {"a": 0, "b": "string"}),
        ({"type": "object", "required": ["x"], "additionalProperties": {"type": "integer"}}, {"x": 0}),
        ({"type": "object", "minProperties": 2, "additionalProperties": {"type": "boolean"}}, {"key0": True, "key1": True}),
        ({"type": "array", "minItems": 3, "uniqueItems": True, "items": {"type": "string"}}, ["string", "string1", "string2"]),
        ({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False}, [0, "string"]),
        ({"type": "array", "contains": {"const": 5}}, [5]),
        ({"$ref": "#/definitions/A", "definitions": {"A": {"type": "integer", "minimum": 2}}}, 2),
        ({}, None),
    ],
)
def test_each_keyword(schema, expected):
    instance = minimal_instance(schema)
    assert instance == expected
    check(schema, instance)


def test_a_schema_with_no_finite_instance_gives_none():
    schema = {"$defs": {"A": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "required": ["a"]}},
              "$ref": "#/$defs/A"}
    assert minimal_instance(schema) is None
