"""``VendorProvider`` and ``provider_hooks``: a provider plugin keeps only its quirks.

What a plugin no longer writes (its variables, its catalog loading, its reasoning
stripper, its flavour's registration) follows from the provider's name; what it still
declares (finish reasons, listing prices) works as the bundled plugins' own code did.
And the bundled provider plugins stay within 40 hand-written lines.
"""

from __future__ import annotations

import ast
import io
import sys
import textwrap
import tokenize
from pathlib import Path

import pytest

from synaxis_core.fake import Flavor
from synaxis_core.postprocess.pipeline import select
from synaxis_core.providers.plugin import VendorProvider, provider_hooks
from synaxis_core.settings import Settings
from synaxis_core.testing.plugin_manager import make_extensions
from synaxis_core.types import ModelSpec

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
MODEL = ModelSpec(id="m1-acme", upstream_id="acme/m1", reasoning=True)


def test_variables_and_catalog_id_follow_from_the_name():
    class AcmeAi(VendorProvider):
        name = "acme-ai"
        default_base_url = "https://api.acme.example/v1"

    assert (AcmeAi.api_key_env, AcmeAi.base_url_env, AcmeAi.catalog_provider) == (
        "ACME_AI_API_KEY", "ACME_AI_BASE_URL", "acme-ai")
    provider = AcmeAi(Settings.from_env({"ACME_AI_BASE_URL": "http://127.0.0.1:9/v1"}))
    assert provider.base_url == "http://127.0.0.1:9/v1" and provider.missing_key == "ACME_AI_API_KEY"

    class Keyless(VendorProvider):
        name = "local"
        api_key_env = ""  # none needed
        catalog_provider = "vllm"

    assert Keyless(Settings.from_env({})).missing_key is None and Keyless.catalog_provider == "vllm"

    class Renamed(AcmeAi):
        name = "acme-eu"

    assert Renamed.api_key_env == "ACME_EU_API_KEY", "derived values follow a subclass's new name"


def test_the_static_models_come_from_the_generated_module_beside_the_class(tmp_path, monkeypatch):
    package = tmp_path / "synaxis_rocket"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent("""
        from synaxis_core.types import ModelSpec
        ROCKET_MODELS = (ModelSpec(id="r1-rocket", upstream_id="rocket/r1"),)
    """))
    (package / "provider.py").write_text(textwrap.dedent("""
        from synaxis_core.providers.plugin import VendorProvider
        class RocketProvider(VendorProvider):
            name = "rocket"
            default_base_url = "https://rocket.example/v1"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "synaxis_rocket", raising=False)
    from synaxis_rocket.provider import RocketProvider

    assert [m.id for m in RocketProvider.static_models] == ["r1-rocket"]
    with pytest.raises(TypeError, match="synaxis_rocket.models has no MISNAMED_MODELS"):
        type("Misnamed", (VendorProvider,), {"name": "misnamed", "__module__": "synaxis_rocket.provider"})


def test_declared_finish_reasons_are_renamed_in_answers_and_chunks():
    class Acme(VendorProvider):
        name = "acme"
        finish_reasons = {"eos": "stop"}

    provider = Acme(Settings.from_env({}))
    answer = provider.normalize_response({"choices": [{"index": 0, "finish_reason": "eos"}, {"finish_reason": "length"}]})
    assert [c["finish_reason"] for c in answer["choices"]] == ["stop", "length"]
    assert provider.normalize_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "eos"}]})["choices"][0][
        "finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("unit", "pricing", "expected"),
    [("per_million", {"input": 0.15, "output": 0.6}, (0.15, 0.6)),
     ("per_token", {"prompt": "$0.00000055", "completion": "$0.00000219"}, (0.55, 2.19)),
     (None, {"input": 0.15, "output": 0.6}, (None, None))],
)
def test_listing_prices_in_the_declared_unit(unit, pricing, expected):
    class Acme(VendorProvider):
        name = "acme"
        listing_prices = unit

    model, embedding, image = Acme(Settings.from_env({})).parse_models([
        {"id": "acme/chat-1", "context_length": 131072, "pricing": pricing},
        {"id": "acme/vectors", "type": "embedding"},
        {"id": "acme/painter", "output_modalities": ["image"]},
    ])
    if unit is None:
        assert (model.input_price, model.output_price) == (None, None)
    else:
        assert (model.input_price, model.output_price) == pytest.approx(expected)
    assert model.context_window == 131072 and model.chat
    assert not embedding.chat and not image.chat


def test_provider_hooks_register_the_provider_its_stripper_and_its_flavour():
    class Acme(VendorProvider):
        name = "acme"
        static_models = (MODEL,)

    flavor = Flavor(name="acme", finish_reason="eos")
    plugin = type(sys)("synaxis_acme")
    plugin.register_providers, plugin.register_postprocessors, plugin.register_fake_flavors = provider_hooks(
        Acme, flavor=flavor)
    ext = make_extensions(plugin)
    assert isinstance(ext.providers["acme"], Acme) and ext.fake_flavors["acme"] is flavor
    stripper = next(p for p in ext.postprocessors if p.name == "think-tags-acme")
    assert select([stripper], MODEL, "acme") == [stripper] and select([stripper], MODEL, "other") == []
    assert not stripper.applies_to(ModelSpec(id="plain", upstream_id="acme/plain"))
    assert all(ext.owners[key] == "synaxis_acme" for key in ("provider:acme", "fake flavor:acme", "postprocessor:think-tags-acme"))

    bare = type(sys)("synaxis_bare")
    bare.register_providers, bare.register_postprocessors, bare.register_fake_flavors = provider_hooks(
        Acme, reasoning=False, postprocessors=lambda settings: [])
    ext = make_extensions(bare)
    assert "acme" in ext.providers and "acme" not in ext.fake_flavors
    assert not any(p.name == "think-tags-acme" for p in ext.postprocessors)


# --- the bundled provider plugins are at most 40 hand-written lines ---------------------------


def hand_written_lines(path: Path) -> int:
    """Lines holding code: not blank, not a comment, not a docstring."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        for statement in body if isinstance(body, list) else ():
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and isinstance(
                    statement.value.value, str):
                docstrings.update(range(statement.lineno, statement.end_lineno + 1))
    code = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            code.update(range(token.start[0], token.end[0] + 1))
    return len(code - docstrings)


@pytest.mark.parametrize("plugin", ["synthetic", "together", "nvidia"])
def test_a_bundled_provider_plugin_is_at_most_40_hand_written_lines(plugin):
    """What the gateway runs of it: every module but the generated ``models.py`` and the
    fake upstream's ``fake_flavor.py`` (test and demo support, counted in the report)."""
    package = PLUGINS / plugin / "src" / f"synaxis_{plugin}"
    runtime = [p for p in package.glob("*.py") if p.name not in ("models.py", "fake_flavor.py")]
    assert sum(hand_written_lines(p) for p in runtime) <= 40, {p.name: hand_written_lines(p) for p in runtime}
