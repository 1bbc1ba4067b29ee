"""The cache key: stable under JSON key order, different for any field that shapes the answer."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from synaxis_core.cache.key import IGNORED_FIELDS, cache_key, not_cacheable, resolved_target

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=12))
json_values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
field_names = st.text(min_size=1, max_size=12).filter(lambda name: name not in IGNORED_FIELDS)
bodies = st.fixed_dictionaries(
    {"messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system"]), "content": st.text(max_size=30)}),
                          min_size=1, max_size=3)},
    optional={"temperature": st.floats(0, 2), "seed": st.integers(0, 99), "tools": json_values,
              "response_format": json_values, "max_tokens": st.integers(1, 4096)},
).flatmap(lambda body: st.dictionaries(field_names, json_values, max_size=3).map(lambda extra: {**extra, **body}))


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


def key(body: dict, tenant: int = 1, target: str = "model:gpt-oss-120b", mode: str = "separate") -> str:
    return cache_key(tenant, target, mode, body)


@settings(max_examples=200, deadline=None)
@given(bodies, st.randoms(use_true_random=False))
def test_the_key_does_not_depend_on_key_order(body, rng):
    assert key(shuffled(body, rng)) == key(body)


@settings(max_examples=200, deadline=None)
@given(bodies, field_names, json_values)
def test_any_field_that_shapes_the_answer_changes_the_key(body, name, value):
    if body.get(name, object()) == value and type(body.get(name)) is type(value):
        return  # the same value: nothing changed
    assert key({**body, name: value}) != key(body)


@settings(max_examples=100, deadline=None)
@given(bodies, st.text(max_size=30))
def test_a_changed_message_changes_the_key(body, text):
    changed = {**body, "messages": [*body["messages"][:-1], {**body["messages"][-1], "content": text}]}
    assert (key(changed) == key(body)) == (text == body["messages"][-1]["content"])


@settings(max_examples=100, deadline=None)
@given(bodies)
def test_tenant_model_and_reasoning_mode_are_in_the_key(body):
    base = key(body)
    assert key(body, tenant=2) != base
    assert key(body, target="deployment:gpt-oss-120b-nvidia") != base
    assert key(body, mode="strip") != base
    assert key(body).startswith("1:") and key(body, tenant=2).startswith("2:")


@given(bodies, st.booleans(), st.text(max_size=10))
def test_streaming_and_the_model_name_used_do_not_change_the_key(body, stream, alias):
    assert key({**body, "model": alias, "stream": stream, "stream_options": {"include_usage": stream}}) == key(body)


def test_numbers_are_kept_as_sent():
    """``0`` and ``0.0`` are different JSON texts; the key does not guess they mean the same."""
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    assert key({**body, "temperature": 0}) != key({**body, "temperature": 0.0})
    assert key({**body, "temperature": 0}) == key({**body, "temperature": 0})


class D:
    def __init__(self, id: str, global_id: str | None) -> None:
        self.id, self.global_id = id, global_id


def test_the_target_is_the_pinned_deployment_or_the_global_model():
    nvidia, syn = D("gpt-oss-120b-nvidia", "gpt-oss-120b"), D("gpt-oss-120b-syn", "gpt-oss-120b")
    assert resolved_target("pinned", "gpt-oss-120b-nvidia", [nvidia]) == "deployment:gpt-oss-120b-nvidia"
    assert resolved_target("global", "gpt-oss-120b", [nvidia, syn]) == "model:gpt-oss-120b"
    assert resolved_target("upstream", "openai/gpt-oss-120b", [nvidia]) == "model:gpt-oss-120b"  # the same model
    assert resolved_target("upstream", "x/y", [D("a", None), D("b", None)]) == "upstream:x/y"


def test_what_is_not_cached_without_force():
    assert not_cacheable({"n": 2}) == "n > 1"
    assert not_cacheable({"temperature": 0.7}) == "temperature > 0 without a seed"
    assert not_cacheable({"temperature": 0.7, "seed": 1}) is None
    assert not_cacheable({"temperature": 0}) is None and not_cacheable({}) is None
