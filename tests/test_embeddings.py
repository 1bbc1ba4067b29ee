"""Embeddings below the HTTP edge: the request check, the fake's vectors, the kind of a
deployment in the config file, the registry and the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import struct

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from synaxis_core.db.models import ProviderModel
from synaxis_core.dialects.embeddings import MAX_INPUTS, finish, translate_request
from synaxis_core.errors import ConfigError, InvalidRequest
from synaxis_core.fake.embeddings import as_base64, embeddings_body, vector
from synaxis_core.plugins import load_extensions
from synaxis_core.providers.config_file import parse_config
from synaxis_core.runtime.registry import load_routing_table
from synaxis_core.settings import Settings
from synaxis_core.sync.providers import sync_providers

texts = st.text(min_size=1, max_size=40)
tokens = st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=20)
valid_inputs = st.one_of(
    texts, st.lists(texts, min_size=1, max_size=5), tokens, st.lists(tokens, min_size=1, max_size=5)
)


@given(valid_inputs, st.sampled_from([None, "float", "base64"]), st.one_of(st.none(), st.integers(1, 3072)))
def test_every_valid_input_is_accepted_and_passed_on_untouched(value, encoding, dimensions):
    body = {"model": "m", "input": value, "encoding_format": encoding, "dimensions": dimensions, "input_type": "query"}
    request = translate_request(dict(body))
    assert request.body == body and request.model == "m"
    assert request.estimated_tokens >= (len(value) if isinstance(value, list) and isinstance(value[0], int) else 1)


@given(st.one_of(
    st.just(""), st.just([]), st.just([""]), st.just([[]]), st.integers(), st.none(), st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.integers(max_value=-1), min_size=1, max_size=3),
    st.lists(st.floats(allow_nan=False), min_size=1, max_size=3),
    st.tuples(texts, st.integers(0, 9)).map(list),  # a text and a token id mixed
    st.tuples(st.integers(0, 9), texts).map(list),
    st.lists(st.booleans(), min_size=1, max_size=3),
))
def test_every_invalid_input_is_a_400_naming_input(value):
    with pytest.raises(InvalidRequest) as err:
        translate_request({"model": "m", "input": value})
    assert err.value.status == 400 and err.value.param == "input"


def test_too_many_inputs_and_bad_options_name_their_field():
    cases = [
        ({"input": ["a"] * (MAX_INPUTS + 1)}, "input"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "a", "dimensions": 0}, "dimensions"),
        ({"input": "a", "dimensions": "8"}, "dimensions"),
        ({"input": "a", "user": 7}, "user"),
        ({"input": "a", "model": ""}, "model"),
        ({}, "input"),
    ]
    for extra, param in cases:
        with pytest.raises(InvalidRequest) as err:
            translate_request({"model": "m", **extra})
        assert err.value.param == param, extra
    with pytest.raises(InvalidRequest) as err:
        translate_request({"input": "a"})
    assert err.value.param == "model" and err.value.code == "missing_required_parameter"


def test_finish_names_the_requested_model_and_estimates_missing_usage():
    request = translate_request({"model": "my-embed", "input": ["abcdefgh", "abcd"]})
    answered = finish({"object": "list", "data": [], "model": "org/upstream-id"}, request)
    assert answered["model"] == "my-embed"
    assert answered["usage"] == {"prompt_tokens": 3, "total_tokens": 3}  # 2 + 1 (four characters a token)
    kept = finish({"data": [], "usage": {"prompt_tokens": 11, "total_tokens": 11}}, request)
    assert kept["usage"]["prompt_tokens"] == 11


@given(st.one_of(texts, tokens), st.integers(1, 64))
def test_fake_vectors_are_deterministic_unit_vectors(item, dims):
    first = vector(item, dims)
    assert first == vector(item, dims) and len(first) == dims
    assert abs(sum(v * v for v in first) - 1.0) < 1e-4


def test_fake_answers_base64_as_little_endian_float32_like_openai():
    floats = msgspec.json.decode(embeddings_body({"input": ["a b c", "d"]}, "m"))
    encoded = msgspec.json.decode(embeddings_body({"input": ["a b c", "d"], "encoding_format": "base64"}, "m"))
    raw = base64.b64decode(encoded["data"][1]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == floats["data"][1]["embedding"]
    assert floats["usage"]["prompt_tokens"] == 4 and [d["index"] for d in floats["data"]] == [0, 1]
    assert floats["data"][0]["embedding"] != floats["data"][1]["embedding"]
    assert as_base64([1.0]) == base64.b64encode(struct.pack("<f", 1.0)).decode()


CONFIG = """
[[providers]]
name = "local"
base_url = "http://127.0.0.1:9/v1"

[[providers.models]]
id = "local-embed"
upstream_id = "BAAI/bge-m3"
kind = "embedding"
input_price = 0.02

[[providers.models]]
id = "local-chat"
upstream_id = "meta/llama"
"""


def test_config_file_kind(tmp_path):
    (provider,) = parse_config(tmp_path / "s.toml", CONFIG, Settings.from_env({}))
    kinds = {m.id: m.kind for m in provider.models}
    assert kinds == {"local-embed": "embedding", "local-chat": "chat"}
    with pytest.raises(ConfigError) as err:
        parse_config(tmp_path / "s.toml", CONFIG.replace('kind = "embedding"', 'kind = "rerank"'), Settings.from_env({}))
    assert "s.toml:9: providers[0].models[0].kind" in err.value.message and "'chat' or 'embedding'" in err.value.message


async def test_kind_is_stored_and_loaded_into_the_routing_table(sessions, tmp_path):
    """Migration 0005 on SQLite and PostgreSQL: the column, its default, the round trip."""
    path = tmp_path / "s.toml"
    path.write_text(CONFIG)
    ext = load_extensions(Settings.from_env({"SYNAXIS_CONFIG": str(path), "SYNAXIS_LOAD_PLUGINS": ""}))
    await sync_providers(sessions, ext)
    async with sessions() as session:
        stored = {row.id: row.kind for row in (await session.scalars(select(ProviderModel))).all()}
    assert stored == {"local-embed": "embedding", "local-chat": "chat"}
    table = await load_routing_table(sessions, ext)
    assert table.by_id["local-embed"].spec.kind == "embedding" and table.by_id["local-chat"].spec.kind == "chat"
    async with sessions.begin() as session:  # a row written without a kind (before 0005) is a chat deployment
        session.add(ProviderModel(id="old", provider="local", upstream_id="x"))
    async with sessions() as session:
        assert (await session.get(ProviderModel, "old")).kind == "chat"


def test_modelsdev_marks_embedding_models_by_their_id():
    from pathlib import Path

    from synaxis_modelsdev.parse import parse_api_json

    data = parse_api_json((Path(__file__).parent / "fixtures" / "modelsdev_api_subset.json").read_bytes())
    models = {m.id: m for m in data.models}
    assert models["nv-embed-v1"].capabilities["kind"] == "embedding"
    assert models["bge-m3"].capabilities["kind"] == "embedding"
    assert "kind" not in models["gpt-oss-120b"].capabilities
    assert "kind" not in models["flux.1-dev"].capabilities
