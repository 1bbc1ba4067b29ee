"""Building a plugin's static catalog from models.dev entries."""

from __future__ import annotations

import ast

from synaxis_core.catalog.static_models import build, render


def entry(**kw):
    base = {
        "name": "M",
        "modalities": {"input": ["text"], "output": ["text"]},
        "limit": {"context": 131072, "output": 8192},
        "cost": {"input": 0.15, "output": 0.6},
        "reasoning": True,
    }
    return {**base, **kw}


MODELS = {
    "openai/gpt-oss-120b": entry(),
    "other-org/gpt-oss-120b": entry(),
    "old/model-1": entry(status="deprecated"),
    "nvidia/nv-embedqa-e5-v5": entry(),
    "black-forest-labs/flux.1-dev": entry(modalities={"input": ["text"], "output": ["image"]}),
}


def test_only_current_chat_models_with_unique_ids():
    specs = build(MODELS, "acme")
    assert [s["id"] for s in specs] == ["gpt-oss-120b-acme", "other-org-gpt-oss-120b-acme"]
    assert {s["global_id"] for s in specs} == {"gpt-oss-120b"}
    first = next(s for s in specs if s["upstream_id"] == "openai/gpt-oss-120b")
    assert (first["input_price"], first["output_price"], first["context_window"]) == (0.15, 0.6, 131072)


def test_rendered_module_is_valid_python_with_the_constant():
    source = render(build(MODELS, "acme"), "fixture.json", title="Acme", catalog_provider="acme", constant="ACME_MODELS")
    tree = ast.parse(source)
    assert any(isinstance(n, ast.AnnAssign) and n.target.id == "ACME_MODELS" for n in tree.body)
    namespace: dict = {}
    exec(compile(source, "models.py", "exec"), namespace)
    assert len(namespace["ACME_MODELS"]) == 2
