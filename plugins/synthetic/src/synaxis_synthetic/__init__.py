"""The Synthetic provider plugin for Synaxis: 14 ``hf:`` models behind one key.

Set ``SYNTHETIC_API_KEY`` (and ``SYNTHETIC_BASE_URL`` to point elsewhere). Registers
the provider, a think-tag stripper for its reasoning models, the language monitor (GLM
models sometimes answer in Chinese; ``SYNAXIS_LANGUAGE_MONITOR_MODELS`` picks the
models) and Synthetic's flavour of the fake upstream.
"""

from synaxis_core import hookimpl
from synaxis_core.postprocess.language import LanguageMonitor
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_synthetic.fake_flavor import SYNTHETIC_FLAVOR
from synaxis_synthetic.language import monitored_models
from synaxis_synthetic.models import SYNTHETIC_MODELS
from synaxis_synthetic.provider import SyntheticProvider, emits_think_tags

__all__ = ["SYNTHETIC_FLAVOR", "SYNTHETIC_MODELS", "SyntheticProvider"]


@hookimpl
def register_providers(register, settings):
    """Register ``SyntheticProvider``."""
    register(SyntheticProvider(settings))


@hookimpl
def register_postprocessors(register, settings):
    """Strip ``<think>`` reasoning from Synthetic models; watch configured models' language."""
    register(ThinkTagStripper(name="think-tags-synthetic", applies=emits_think_tags, provider=SyntheticProvider.name))
    patterns = monitored_models(settings)
    register(
        LanguageMonitor(
            name="language-monitor",
            applies=lambda spec: any(p in spec.id for p in patterns),
        )
    )


@hookimpl
def register_fake_flavors(register, settings):
    """Synthetic's wire format, for the fake upstream."""
    register(SYNTHETIC_FLAVOR)
