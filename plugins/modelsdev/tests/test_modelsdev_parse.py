"""Parsing models.dev ``api.json``: counts, per-provider prices, merge, garbage tolerance."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from synaxis_core.types import CatalogData
from synaxis_modelsdev.parse import CatalogFormatError, parse_api_json

FIXTURES = Path(__file__).parents[3] / "tests" / "fixtures"
NEW = FIXTURES / "modelsdev_api_subset.json"
OLD = FIXTURES / "modelsdev_api_subset_2026-06-23.json"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def parse(doc: dict) -> CatalogData:
    return parse_api_json(json.dumps(doc).encode())


def price(data: CatalogData, provider: str, model_id: str):
    matches = [p for p in data.prices if (p.catalog_provider, p.model_id) == (provider, model_id)]
    assert len(matches) == 1, (provider, model_id, matches)
    return matches[0]


def model(data: CatalogData, global_id: str):
    return next(m for m in data.models if m.id == global_id)


@pytest.mark.parametrize(
    ("path", "counts"),
    [
        (NEW, {"synthetic": 10, "togetherai": 32, "nvidia": 84}),
        (OLD, {"synthetic": 34, "togetherai": 31, "nvidia": 83}),
    ],
)
def test_fixture_counts_per_provider(path: Path, counts: dict[str, int]) -> None:
    data = parse_api_json(path.read_bytes())
    assert data.skipped == 0
    assert Counter(p.catalog_provider for p in data.prices) == counts
    assert data.source == "modelsdev"
    assert len({(p.catalog_provider, p.model_id) for p in data.prices}) == sum(counts.values())
    assert len({m.id for m in data.models}) == len(data.models)
    assert {p.global_id for p in data.prices} == {m.id for m in data.models}


@pytest.mark.parametrize("path", [NEW, OLD])
def test_prices_are_keyed_by_provider_and_model(path: Path) -> None:
    raw = load(path)
    assert raw["nvidia"]["models"]["openai/gpt-oss-120b"]["cost"] == {"input": 0, "output": 0}
    assert raw["togetherai"]["models"]["openai/gpt-oss-120b"]["cost"] == {"input": 0.15, "output": 0.6}
    data = parse_api_json(path.read_bytes())
    nvidia = price(data, "nvidia", "openai/gpt-oss-120b")
    together = price(data, "togetherai", "openai/gpt-oss-120b")
    synthetic = price(data, "synthetic", "hf:openai/gpt-oss-120b")
    assert (nvidia.input_price, nvidia.output_price) == (0, 0)
    assert (together.input_price, together.output_price) == (0.15, 0.60)
    assert (synthetic.input_price, synthetic.output_price) == (0.1, 0.1)
    assert nvidia.global_id == together.global_id == synthetic.global_id == "gpt-oss-120b"
    assert (together.context_window, together.max_output) == (131072, 131072)
    assert (nvidia.context_window, nvidia.max_output) == (128000, 8192)


def test_global_price_is_the_lower_median_of_the_charging_providers() -> None:
    data = parse_api_json(NEW.read_bytes())
    gpt = model(data, "gpt-oss-120b")
    # charging: synthetic 0.1/0.1, togetherai 0.15/0.6; NVIDIA's free tier is left out
    assert (gpt.input_price, gpt.output_price, gpt.cache_read_price) == (0.1, 0.1, 0.1)
    assert gpt.capabilities["offered_by"] == ["nvidia", "synthetic", "togetherai"]
    glm = model(data, "glm-5.1")  # synthetic 1/3, togetherai 1.4/4.4, nvidia 0/0
    assert (glm.input_price, glm.output_price) == (1, 3)
    minimax = model(data, "minimax-m3")  # synthetic 0.6/1.2, togetherai 0.3/1.2, nvidia 0/0
    assert (minimax.input_price, minimax.output_price) == (0.3, 1.2)
    free = model(data, "gemma-2-2b-it")  # only NVIDIA, free
    assert (free.input_price, free.output_price) == (0, 0)


def test_global_model_fields_and_capabilities() -> None:
    data = parse_api_json(OLD.read_bytes())
    r1 = model(data, "deepseek-r1-0528")
    assert (r1.input_price, r1.output_price) == (3, 8)
    assert (r1.context_window, r1.max_output) == (128000, 128000)
    assert r1.family == "deepseek-thinking"
    caps = r1.capabilities
    assert caps["reasoning"] is True and caps["modalities"] == {"input": ["text"], "output": ["text"]}
    assert {"tool_call", "attachment", "open_weights", "release_date", "last_updated"} <= caps.keys()
    assert "status" not in caps
    v32 = model(data, "deepseek-v3.2")
    assert v32.cache_write_price == 0 and v32.capabilities["input_limit"] == 162816


def test_deprecated_models_parse_and_carry_their_status() -> None:
    data = parse_api_json(OLD.read_bytes())
    # deprecated at Together only, live at Synthetic: the global model is not deprecated
    assert "status" not in model(data, "kimi-k2.5").capabilities
    assert price(data, "togetherai", "moonshotai/Kimi-K2.5").input_price == 0.5
    # deprecated everywhere it is listed
    assert model(data, "qwen3-coder-next").capabilities["status"] == "deprecated"
    assert model(data, "minimax-m3").capabilities.get("status") is None  # beta at synthetic, live at together


def test_parse_is_deterministic_and_independent_of_key_order() -> None:
    doc = load(NEW)
    reordered = {p: {**doc[p], "models": dict(reversed(doc[p]["models"].items()))} for p in reversed(list(doc))}
    assert msgspec.json.encode(parse(doc)) == msgspec.json.encode(parse(reordered))
    assert [m.id for m in parse(doc).models] == sorted(m.id for m in parse(doc).models)


def test_garbage_entries_are_skipped_and_counted() -> None:
    doc = load(NEW)
    good = doc["togetherai"]["models"]["openai/gpt-oss-120b"]
    models = doc["togetherai"]["models"]
    models["no-limit"] = {k: v for k, v in good.items() if k != "limit"} | {"id": "no-limit"}
    models["bad-bool"] = good | {"id": "bad-bool", "reasoning": "yes"}
    models["negative-cost"] = good | {"id": "negative-cost", "cost": {"input": -1, "output": 1}}
    models["string"] = "not a model"
    models["blank-id"] = good | {"id": "  "}
    models["duplicate"] = good  # same id as openai/gpt-oss-120b
    doc["broken-provider"] = ["not", "a", "provider"]
    doc["models-not-object"] = {"id": "x", "name": "X", "models": 5}
    doc["no-name"] = {"id": "y", "models": {}}
    doc[" "] = doc["synthetic"]
    data = parse(doc)
    assert data.skipped == 10
    assert Counter(p.catalog_provider for p in data.prices) == {"synthetic": 10, "togetherai": 32, "nvidia": 84}


def test_unknown_fields_are_tolerated() -> None:
    doc = load(NEW)
    doc["nvidia"]["brand_new_provider_field"] = {"x": 1}
    entry = doc["nvidia"]["models"]["openai/gpt-oss-120b"]
    entry["new_field"] = [1, 2, 3]
    entry["cost"]["new_price"] = 9.9
    entry["limit"]["new_limit"] = 7
    entry["modalities"]["new_direction"] = ["smell"]
    entry["status"] = "sunset"
    data = parse(doc)
    assert data.skipped == 0
    assert price(data, "nvidia", "openai/gpt-oss-120b").input_price == 0


def test_meta_keys_are_ignored() -> None:
    doc = {"_meta": {"date": "2026-07-02"}, "_anything": 5, **load(NEW)}
    data = parse(doc)
    assert data.skipped == 0 and "_meta" not in {p.catalog_provider for p in data.prices}


@pytest.mark.parametrize("body", [b"[]", b"42", b'"models"', b"null", b"not json", b"{", b""])
def test_a_top_level_that_is_not_an_object_is_an_error(body: bytes) -> None:
    with pytest.raises(CatalogFormatError):
        parse_api_json(body)


def test_a_model_without_cost_has_no_price() -> None:
    doc = copy.deepcopy(load(NEW))
    del doc["synthetic"]["models"]["hf:zai-org/GLM-5.2"]["cost"]
    data = parse({"synthetic": doc["synthetic"]})
    glm = price(data, "synthetic", "hf:zai-org/GLM-5.2")
    assert glm.input_price is None and glm.output_price is None
    assert model(data, "glm-5.2").input_price is None
