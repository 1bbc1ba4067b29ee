"""The installed provider plugins together: unique ids, one global model at three prices."""

from __future__ import annotations

import pytest

from synaxis_core.plugins import load_extensions
from synaxis_core.settings import Settings

PLUGINS = ("synaxis_synthetic", "synaxis_together", "synaxis_nvidia")


@pytest.fixture
def extensions():
    for name in PLUGINS:
        pytest.importorskip(name)
    return load_extensions(Settings.from_env({"SYNAXIS_LOAD_PLUGINS": "synthetic,together,nvidia"}))


def test_three_providers_with_unique_model_ids(extensions):
    assert {"synthetic", "together", "nvidia"} <= set(extensions.providers)
    total = sum(len(p.models) for p in extensions.providers.values())
    assert len(extensions.models) == total  # collect_extensions rejects duplicates anyway


def test_gpt_oss_120b_is_served_by_three_providers_at_three_prices(extensions):
    deployments = {
        provider.name: spec
        for provider, spec in extensions.models.values()
        if spec.global_id == "gpt-oss-120b"
    }
    assert set(deployments) >= {"synthetic", "together", "nvidia"}
    prices = {(spec.input_price, spec.output_price) for spec in deployments.values()}
    assert len(prices) == 3


def test_each_plugin_registers_its_think_tag_stripper(extensions):
    names = {p.name for p in extensions.postprocessors}
    assert {"think-tags-synthetic", "think-tags-together", "think-tags-nvidia", "language-monitor"} <= names
